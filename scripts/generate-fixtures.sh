#!/usr/bin/env bash
# Regenerates the generated stubs under test/fixtures from test/fixtures/echo.proto with the real
# generators, as users run them: proto-loader-gen-types, ts-proto and grpc_tools_node_protoc_ts
# (typings for grpc-tools' JavaScript, whose own native generator cannot be installed here; its
# JavaScript stand-in, test/fixtures/grpc-tools/echo_grpc_pb.js, is written by hand).
# Needs protoc (Debian: apt-get install protobuf-compiler); the npm generators are installed into
# .tools/generators at the versions pinned below.
set -euo pipefail
cd "$(dirname "$0")/.."

TS_PROTO_VERSION=2.18.0
PROTOC_TS_VERSION=5.3.3
tools=.tools/generators
fixtures=test/fixtures

command -v protoc >/dev/null || { echo "generate-fixtures: protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }
if [ ! -x "$tools/node_modules/.bin/protoc-gen-ts_proto" ] || [ ! -x "$tools/node_modules/.bin/protoc-gen-ts" ]; then
  mkdir -p "$tools"
  echo '{"name":"fixture-generators","private":true}' > "$tools/package.json"
  (cd "$tools" && npm install --no-audit --no-fund --no-package-lock "ts-proto@$TS_PROTO_VERSION" "grpc_tools_node_protoc_ts@$PROTOC_TS_VERSION")
fi

# proto-loader-gen-types: the loader options the tests use (camelCase fields, defaults).
rm -rf "$fixtures/proto-loader"
npx proto-loader-gen-types echo.proto --grpcLib=@grpc/grpc-js --defaults --outDir="$fixtures/proto-loader" -I "$fixtures"

# ts-proto: grpc-js services.
protoc --plugin="protoc-gen-ts_proto=$tools/node_modules/.bin/protoc-gen-ts_proto" \
  --ts_proto_out="$fixtures/ts-proto" --ts_proto_opt=outputServices=grpc-js,env=node,esModuleInterop=true \
  -I "$fixtures" echo.proto

# grpc_tools_node_protoc_ts: the .d.ts files for grpc-tools' echo_pb.js and echo_grpc_pb.js.
mkdir -p "$fixtures/grpc-tools-ts"
protoc --plugin="protoc-gen-ts=$tools/node_modules/.bin/protoc-gen-ts" \
  --ts_out="grpc_js:$fixtures/grpc-tools-ts" -I "$fixtures" echo.proto
echo "generate-fixtures: done"
