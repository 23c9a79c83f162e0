import { randomSeed } from '../sim/prng.ts';

/** Seed for a random test: TNIC_SEED if set (to replay), else random. Always printed. */
export function testSeed(name: string): number {
  const fromEnv = process.env.TNIC_SEED;
  const seed = fromEnv !== undefined ? Number(fromEnv) >>> 0 : randomSeed();
  console.log(`${name}: seed ${seed} (replay with TNIC_SEED=${seed})`);
  return seed;
}
