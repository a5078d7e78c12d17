import {
  BadRequestException,
  Injectable,
  InternalServerErrorException,
  Logger,
  UnauthorizedException,
  UnsupportedMediaTypeException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { createHash } from 'node:crypto';
import { VERIFY_WEBHOOK_METADATA, WEBHOOKS_LOGGER_CONTEXT } from '../webhooks.constants.js';
import {
  rawBodyUnavailable,
  webhookNotJson,
  webhookNoSecretSource,
  webhookSecretsUnresolved,
} from '../webhooks.messages.js';
import {
  DEFAULT_TOLERANCE_SECONDS,
  type CheckedVerifyOptions,
  type ResolvedWebhookSecrets,
} from './verify-webhook.options.js';
import { MemoryWebhookDedupeStore, type WebhookDedupeStore } from './webhook-dedupe.js';
import {
  readWebhookHeaders,
  secretKeys,
  verifyWebhook,
  type VerifiedWebhookHeaders,
} from './webhook-verifier.js';

/** The options of one route, its controller's beneath. */
export interface RouteVerifyOptions {
  route: string;
  source: CheckedVerifyOptions['source'];
  tolerance: number;
  dedupe: WebhookDedupeStore | false;
  /** Seconds a handled id is remembered; default while its timestamp is in the window. */
  dedupeTtl: number | undefined;
}

/** What the guard leaves on a request it let through, for the dedupe and `@WebhookHeaders()`. */
export interface VerifiedWebhook {
  headers: VerifiedWebhookHeaders;
  options: RouteVerifyOptions;
  /**
   * The scopes of ids of the keys that signed, for the dedupe (see `signerScope`): two while a
   * sender rotates its secret and signs with both.
   */
  scopes: string[];
}

const VERIFIED = Symbol('nestjs-webhooks:verified');

type Request = Record<PropertyKey, unknown> & {
  rawBody?: unknown;
  headers: Record<string, string | string[] | undefined>;
};

export const verifiedWebhookOf = (request: object): VerifiedWebhook | undefined =>
  (request as Record<symbol, VerifiedWebhook | undefined>)[VERIFIED];

/**
 * `@VerifyWebhook`'s check, before anything else of the route runs: refuses with 400 or 401
 * (the reason in the JSON error), or lets the request through marked as verified.
 */
@Injectable()
export class WebhookVerificationGuard implements CanActivate {
  private readonly logger = new Logger(WEBHOOKS_LOGGER_CONTEXT);
  private readonly routes = new Map<Function, Map<Function, RouteVerifyOptions>>();
  private rawBodyLogged = false;

  constructor(private readonly reflector: Reflector) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<Request>();
    // A decorator on both the controller and the route puts the guard there twice.
    if (request[VERIFIED]) return true;
    const options = this.optionsOf(context);
    const body = request.rawBody;
    if (!Buffer.isBuffer(body)) {
      // Standard Webhooks bodies are JSON: another type is the sender's mistake, and no body
      // parser kept its bytes; a JSON body without them is the app's.
      if (!JSON_TYPE.test(String(request.headers['content-type'] ?? ''))) {
        throw new UnsupportedMediaTypeException(webhookNotJson());
      }
      const message = rawBodyUnavailable(options.route);
      if (!this.rawBodyLogged) this.logger.error(message);
      this.rawBodyLogged = true;
      throw new InternalServerErrorException(message);
    }
    // The headers first: a request that is no webhook costs no lookup of secrets.
    const headers = readWebhookHeaders(request.headers);
    if ('status' in headers) throw new BadRequestException(headers.message);
    const keys = await this.keysOf(options, request);
    const verified = verifyWebhook(body, headers, keys, options.tolerance, Date.now());
    if ('status' in verified) throw new UnauthorizedException(verified.message);
    request[VERIFIED] = {
      headers: verified.headers,
      options,
      scopes: verified.signers.map(signerScope),
    } satisfies VerifiedWebhook;
    return true;
  }

  private async keysOf(options: RouteVerifyOptions, request: Request): Promise<Buffer[]> {
    const { source, route } = options;
    if (!source) {
      this.logger.error(webhookNoSecretSource(route));
      throw new InternalServerErrorException(webhookNoSecretSource(route));
    }
    if ('keys' in source) return source.keys;
    let secrets: ResolvedWebhookSecrets;
    try {
      secrets = await source.resolve(request as never);
      const list = secrets == null ? [] : typeof secrets === 'string' ? [secrets] : [...secrets];
      return secretKeys(list, 'resolveSecrets()');
    } catch (error) {
      // The app's own fault, told to its log; the sender learns only that it failed.
      this.logger.error(webhookSecretsUnresolved(route, (error as Error).message));
      throw new InternalServerErrorException('The receiver could not resolve its webhook secrets.');
    }
  }

  /** The route's options over its controller's, worked out once per route. */
  private optionsOf(context: ExecutionContext): RouteVerifyOptions {
    const handler = context.getHandler();
    const controller = context.getClass();
    // By controller and handler: controllers that inherit one handler are routes of their own.
    let routes = this.routes.get(controller);
    if (!routes) this.routes.set(controller, (routes = new Map()));
    let options = routes.get(handler);
    if (!options) {
      const [own = {}, inherited = {}] = this.reflector.getAll<
        (CheckedVerifyOptions | undefined)[]
      >(VERIFY_WEBHOOK_METADATA, [handler, controller]);
      options = {
        route: `${controller.name}.${handler.name}()`,
        source: own.source ?? inherited.source,
        tolerance: own.tolerance ?? inherited.tolerance ?? DEFAULT_TOLERANCE_SECONDS,
        dedupe: own.dedupe ?? inherited.dedupe ?? new MemoryWebhookDedupeStore(),
        dedupeTtl: own.dedupeTtl ?? inherited.dedupeTtl,
      };
      routes.set(handler, options);
    }
    return options;
  }
}

const JSON_TYPE = /^application\/json\s*(;|$)/i;

/**
 * Whose ids a verified request's id is among: a short digest of the key that signed it, so
 * that senders with secrets of their own (a secret per tenant) cannot mark each other's ids.
 */
const signerScope = (key: Buffer) =>
  createHash('sha256').update('nestjs-webhooks:dedupe:').update(key).digest('hex').slice(0, 16);
