import { randomBytes } from 'node:crypto';

/**
 * A prefixed, roughly time-ordered identifier (`msg_…`, `ep_…`): the time part keeps logs
 * sortable, the random part keeps ids unguessable across processes.
 */
export function createId(prefix: string): string {
  return `${prefix}_${Date.now().toString(36).padStart(9, '0')}${randomBytes(10).toString('hex')}`;
}
