import { describe, expect, it } from 'vitest';
import { classifyResponse } from '../../lib/delivery/response-classifier.js';

describe('classifyResponse', () => {
  it.each([200, 201, 202, 204, 299])('counts %i as delivered', (status) => {
    expect(classifyResponse(status)).toEqual({ outcome: 'delivered' });
  });

  it('reports 410 Gone so the endpoint gets disabled', () => {
    expect(classifyResponse(410)).toEqual({ outcome: 'gone' });
  });

  it.each([429, 503])('retries %i honouring Retry-After', (status) => {
    expect(classifyResponse(status)).toEqual({ outcome: 'retry', honourRetryAfter: true });
  });

  it.each([
    [301, 'a redirect, which is not followed'],
    [302, 'a redirect, which is not followed'],
    [304, 'not modified'],
    [307, 'a redirect, which is not followed'],
    [308, 'a redirect, which is not followed'],
    [400, 'bad request'],
    [401, 'unauthorized'],
    [404, 'not found'],
    [413, 'payload too large'],
    [500, 'internal server error'],
    [502, 'bad gateway'],
    [504, 'gateway timeout'],
    [101, 'an informational status'],
  ])('retries %i (%s) on the schedule alone', (status) => {
    expect(classifyResponse(status)).toEqual({ outcome: 'retry', honourRetryAfter: false });
  });

  it('retries when no response arrived (timeout, refused, reset)', () => {
    expect(classifyResponse(undefined)).toEqual({ outcome: 'retry', honourRetryAfter: false });
  });

  it.each([0, -1, 200.5, 600, Number.NaN])('retries an impossible status %s', (status) => {
    expect(classifyResponse(status)).toEqual({ outcome: 'retry', honourRetryAfter: false });
  });
});
