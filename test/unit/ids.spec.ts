import { describe, expect, it } from 'vitest';
import { attemptId, createId } from '../../lib/storage/ids.js';

describe('ids', () => {
  it('makes prefixed ids: the time in base 36, then 80 random bits in hex', () => {
    const before = Date.now();
    const id = createId('msg');
    const after = Date.now();
    expect(id).toMatch(/^msg_[0-9a-z]{9}[0-9a-f]{20}$/);
    const time = parseInt(id.slice(4, 13), 36);
    expect(time).toBeGreaterThanOrEqual(before);
    expect(time).toBeLessThanOrEqual(after);
    expect(createId('ep')).toMatch(/^ep_[0-9a-z]{9}[0-9a-f]{20}$/);
  });

  it('never repeats one, across refills of the random pool, and sorts them by time', () => {
    // 5,000 ids use the 4 KiB pool about twelve times over.
    const ids = Array.from({ length: 5_000 }, () => createId('msg'));
    expect(new Set(ids).size).toBe(ids.length);
    const times = ids.map((id) => id.slice(4, 13));
    expect([...times].sort()).toEqual(times);
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
    expect(createId(prefix)).toMatch(new RegExp(`^${prefix}_[0-9a-z]{9}[0-9a-f]{20}$`));
    expect(createId('msg')).toMatch(/^msg_[0-9a-z]{9}[0-9a-f]{20}$/);
  });

  it("derives an attempt's id from its delivery's", () => {
    expect(attemptId('dlv_3_msg_abc', 2)).toBe('atm_3_msg_abc_2');
    expect(attemptId('dlv_0_msg_abc', 1)).not.toBe(attemptId('dlv_1_msg_abc', 1));
  });
});
