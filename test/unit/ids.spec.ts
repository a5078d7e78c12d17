import { describe, expect, it } from 'vitest';
import { attemptId, createId, numberedIds } from '../../lib/storage/ids.js';

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

  it('numbers the ids of records made together, sorting in the order made past each digit', () => {
    const ids = numberedIds('dlv', 'msg_abc', 1_300);
    expect(ids.slice(0, 2)).toEqual(['dlv_msg_abc_00', 'dlv_msg_abc_01']);
    // Past 36 the place takes two base-36 digits, and past 1,296 three.
    expect(ids.slice(35, 37)).toEqual(['dlv_msg_abc_0z', 'dlv_msg_abc_110']);
    expect(ids.slice(1_295, 1_297)).toEqual(['dlv_msg_abc_1zz', 'dlv_msg_abc_2100']);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(ids);
    expect(numberedIds('dlv', 'msg_abc', 0)).toEqual([]);
  });

  it('numbers ids under a base longer than ids usually have, and makes the next id whole', () => {
    const base = 'm'.repeat(200);
    expect(numberedIds('dlv', base, 2)).toEqual([`dlv_${base}_00`, `dlv_${base}_01`]);
    expect(createId('msg')).toMatch(/^msg_[0-9a-z]{13}[0-9a-f]{16}$/);
  });

  it("derives an attempt's id from its delivery's", () => {
    expect(attemptId('dlv_3_msg_abc', 2)).toBe('atm_3_msg_abc_2');
    expect(attemptId('dlv_0_msg_abc', 1)).not.toBe(attemptId('dlv_1_msg_abc', 1));
  });
});
