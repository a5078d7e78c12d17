/** `newSubscription`, `new_subscription` or `new-subscription` -> `New Subscription`, as FastAPI does. */
export function titleCase(name: string): string {
  return words(name)
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join(' ');
}

/** `newSubscription` -> `new_subscription`. */
export function snakeCase(name: string): string {
  return words(name)
    .map((word) => word.toLowerCase())
    .join('_');
}

/**
 * FastAPI's operation id for a webhook: function name + name with non-word characters as `_`
 * + method (`new_subscriptionnew_subscription_post`), so both frameworks document alike.
 */
export function defaultOperationId(webhook: string, methodName: string, method: string): string {
  return `${snakeCase(methodName)}${webhook}_${method}`.replace(/\W/g, '_');
}

function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[\s_\-.]+/)
    .filter(Boolean);
}
