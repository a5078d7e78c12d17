import { describe, expect, it } from 'vitest';
import { StatementBatcher } from '../../lib/storage/postgres/statement-batcher.js';

/** A batcher whose batches wait until `release()`, and that remembers what each batch held. */
function gatedBatcher(options: { maxInFlight?: number; maxBatch?: number; fails?: string[] } = {}) {
  const batches: string[][] = [];
  const gates: (() => void)[] = [];
  const batcher = new StatementBatcher<string, string>(
    async (inputs) => {
      batches.push(inputs);
      await new Promise<void>((resolve) => gates.push(resolve));
      const bad = inputs.find((input) => options.fails?.includes(input));
      if (bad) throw new Error(`refused ${bad}`);
      return inputs.map((input) => input.toUpperCase());
    },
    {
      maxInFlight: options.maxInFlight ?? 2,
      maxBatch: options.maxBatch ?? 100,
      key: (input) => input.split(':')[0],
    },
  );
  /** Lets the oldest batch running now finish. */
  const releaseOldest = async () => {
    gates.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
  };
  /** Lets every batch running now finish. */
  const release = async () => {
    for (const open of gates.splice(0)) open();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { batcher, batches, release, releaseOldest };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('StatementBatcher', () => {
  it('sends a lone call at once, and the calls of one turn together', async () => {
    const { batcher, batches, release } = gatedBatcher();
    const lone = batcher.run('a');
    await turn();
    expect(batches).toEqual([['a']]);
    const together = [batcher.run('b'), batcher.run('c'), batcher.run('d')];
    await turn();
    expect(batches).toEqual([['a'], ['b', 'c', 'd']]);
    await release();
    expect(await lone).toBe('A');
    expect(await Promise.all(together)).toEqual(['B', 'C', 'D']);
  });

  it('holds calls while maxInFlight batches run, then sends them as one', async () => {
    const { batcher, batches, release } = gatedBatcher({ maxInFlight: 1 });
    const first = batcher.run('a');
    await turn();
    const later = ['b', 'c', 'd'].map((input) => batcher.run(input));
    await turn();
    expect(batches).toEqual([['a']]);
    await release();
    expect(batches).toEqual([['a'], ['b', 'c', 'd']]);
    await release();
    expect([await first, ...(await Promise.all(later))]).toEqual(['A', 'B', 'C', 'D']);
  });

  it('never puts two calls of one key, or more than maxBatch, in one batch', async () => {
    const { batcher, batches, release } = gatedBatcher({ maxInFlight: 1, maxBatch: 2 });
    const calls = ['x:1', 'x:2', 'y', 'z'].map((input) => batcher.run(input));
    await turn();
    expect(batches).toEqual([['x:1', 'y']]);
    await release();
    expect(batches).toEqual([
      ['x:1', 'y'],
      ['x:2', 'z'],
    ]);
    await release();
    expect(await Promise.all(calls)).toEqual(['X:1', 'X:2', 'Y', 'Z']);
  });

  it('starts a call only once the batch running its key has ended, so they apply in order', async () => {
    const { batcher, batches, release, releaseOldest } = gatedBatcher({ maxInFlight: 2 });
    const first = batcher.run('x:1');
    await turn();
    const later = ['x:2', 'y', 'x:3'].map((input) => batcher.run(input));
    await turn();
    // A batch is free, but x:2 and x:3 wait for x:1.
    expect(batches).toEqual([['x:1'], ['y']]);
    await releaseOldest();
    expect(batches).toEqual([['x:1'], ['y'], ['x:2']]);
    await release();
    expect(batches).toEqual([['x:1'], ['y'], ['x:2'], ['x:3']]);
    await release();
    expect([await first, ...(await Promise.all(later))]).toEqual(['X:1', 'X:2', 'Y', 'X:3']);
  });

  it('runs a failed batch again call by call: only the call that fails is rejected', async () => {
    const { batcher, batches, release } = gatedBatcher({ fails: ['bad'] });
    const calls = ['a', 'bad', 'c'].map((input) => batcher.run(input));
    const settled = Promise.allSettled(calls);
    await turn();
    await release();
    await release();
    expect(batches).toEqual([['a', 'bad', 'c'], ['a'], ['bad'], ['c']]);
    expect(
      (await settled).map((one) => (one.status === 'fulfilled' ? one.value : 'rejected')),
    ).toEqual(['A', 'rejected', 'C']);
    await expect(calls[1]).rejects.toThrow('refused bad');
  });

  it('drains: resolves once nothing waits or runs', async () => {
    const { batcher, release } = gatedBatcher({ maxInFlight: 1 });
    await batcher.drain();
    const calls = ['a', 'b'].map((input) => batcher.run(input));
    let drained = false;
    const draining = batcher.drain().then(() => (drained = true));
    await turn();
    expect(drained).toBe(false);
    await release();
    await Promise.all(calls);
    await draining;
    expect(drained).toBe(true);
  });
});
