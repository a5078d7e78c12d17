import { describe, expect, it } from 'vitest';
import { attemptId, createId } from '../../lib/storage/ids.js';

describe('ids', () => {
  it('makes prefixed ids: the time in base 36, a sequence, then 64 random bits in hex', () => {
    const before = Date.now();
    const id = createId('msg');
    const after = Date.now();
    expect(id).toMatch(/^msg_[0-9a-z]{13}[0-9a-f]{16}$/);
    const time = parseInt(id.slice(4, 13), 36);
    expect(time).toBeGreaterThanOrEqual(before);
    expect(time).toBeLessThanOrEqual(after);
    expect(createId('ep')).toMatch(/^ep_[0-9a-z]{13}[0-9a-f]{16}$/);
  });

  it('never repeats one, across refills of the random pool, and sorts them as made', () => {
    // 5,000 ids use the 4 KiB pool about ten times over, many within one millisecond.
    const ids = Array.from({ length: 5_000 }, () => createId('msg'));
    expect(new Set(ids).size).toBe(ids.length);
    // Byte order, as a database's "C" collation compares them.
    expect([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(ids);
    // Every hex digit turns up: the random part is not stuck on a few values.
    expect(
      new Set(
        ids
          .join('')
          .slice(0, 2_000)
          .replace(/[^0-9a-f]/g, ''),
      ),
    ).toHaveLength(16);
  });

  it('takes a prefix longer than ids usually have', () => {
    const prefix = 'x'.repeat(100);
    expect(createId(prefix)).toMatch(new RegExp(`^${prefix}_[0-9a-z]{13}[0-9a-f]{16}$`));
    expect(createId('msg')).toMatch(/^msg_[0-9a-z]{13}[0-9a-f]{16}$/);
  });

  it("derives an attempt's id from its delivery's", () => {
    expect(attemptId('dlv_3_msg_abc', 2)).toBe('atm_3_msg_abc_2');
    expect(attemptId('dlv_0_msg_abc', 1)).not.toBe(attemptId('dlv_1_msg_abc', 1));
  });
});
