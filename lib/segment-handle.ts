/**
 * Parsing the handle `SharedMemory.attach` takes: a name, or `{ name, size }`.
 * @internal
 */
import { checkInteger, invalidType } from './errors';
import { checkName } from './names';

/** The name and, if the handle gives one, the size a segment must have. */
export function parseHandle(value: unknown): { name: string; size?: number } {
  if (typeof value === 'string') return { name: checkName(value) };
  if (typeof value !== 'object' || value === null) throw invalidType('handle', 'a name or a { name, size } handle', value);
  const h = value as { name?: unknown; size?: unknown };
  const name = checkName(h.name, 'handle.name');
  if (h.size === undefined) return { name };
  return { name, size: checkInteger('handle.size', h.size, 0, Number.MAX_SAFE_INTEGER) };
}
