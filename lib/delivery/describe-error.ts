/** An error's name and message: what a log line needs, without the objects it may carry. */
export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
