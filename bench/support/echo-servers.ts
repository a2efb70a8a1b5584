// Runs echo servers in their own process, so a benchmark's client process measures only the
// client. Started with fork(); sends the servers' addresses to the parent, then serves until
// the parent disconnects.
import { startEchoServer, type Behaviour } from '../../test/helpers/echo-server';

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 3);
  const behaviours: Behaviour[] = JSON.parse(process.argv[3] ?? '[]');
  const servers = await Promise.all(
    Array.from({ length: count }, (_, i) => startEchoServer({ name: `s${i}`, behaviour: behaviours[i] })),
  );
  process.send!({ addresses: servers.map((s) => s.address) });
  process.on('disconnect', () => {
    for (const s of servers) s.forceStop();
    process.exit(0);
  });
}

void main();
