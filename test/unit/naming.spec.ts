import { describe, expect, it } from 'vitest';
import { defaultOperationId, snakeCase, titleCase } from '../../lib/openapi/webhook-naming.js';

describe('titleCase', () => {
  it.each([
    ['newSubscription', 'New Subscription'],
    ['new_subscription', 'New Subscription'],
    ['new-subscription', 'New Subscription'],
    ['new.subscription', 'New Subscription'],
    ['NewSubscription', 'New Subscription'],
    ['HTMLParser', 'HTML Parser'],
    ['userID', 'User ID'],
    ['parseHTMLString', 'Parse HTML String'],
    ['invoice2Paid', 'Invoice2 Paid'],
    ['send', 'Send'],
    ['__private__name', 'Private Name'],
    ['', ''],
  ])('%j -> %j', (name, expected) => {
    expect(titleCase(name)).toBe(expected);
  });
});

describe('snakeCase', () => {
  it.each([
    ['newSubscription', 'new_subscription'],
    ['new-subscription', 'new_subscription'],
    ['new_subscription', 'new_subscription'],
    ['HTMLParser', 'html_parser'],
    ['userID', 'user_id'],
    ['send', 'send'],
  ])('%j -> %j', (name, expected) => {
    expect(snakeCase(name)).toBe(expected);
  });
});

describe('defaultOperationId', () => {
  it("matches FastAPI's id for the same webhook", () => {
    // FastAPI: `def new_subscription(body: Subscription)` under `@app.webhooks.post("new-subscription")`.
    expect(defaultOperationId('new-subscription', 'newSubscription', 'post')).toBe(
      'new_subscriptionnew_subscription_post',
    );
  });

  it.each([
    ['invoice.paid', 'paid', 'put', 'paidinvoice_paid_put'],
    ['order', 'orderDeleted', 'delete', 'order_deletedorder_delete'],
    ['user/created', 'created', 'patch', 'createduser_created_patch'],
    ['a b', 'send', 'post', 'senda_b_post'],
  ])('(%j, %j, %j) -> %j', (webhook, methodName, method, expected) => {
    expect(defaultOperationId(webhook, methodName, method)).toBe(expected);
  });
});
