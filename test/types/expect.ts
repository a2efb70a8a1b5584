// Type-level assertions for the compile-time tests: `const check: Equal<A, B> = true` compiles
// only when A and B are the same type (not merely assignable either way).
export type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
