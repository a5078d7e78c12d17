import {
  BadRequestException,
  Injectable,
  InternalServerErrorException,
  Logger,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { VERIFY_WEBHOOK_METADATA, WEBHOOKS_LOGGER_CONTEXT } from '../webhooks.constants.js';
import {
  rawBodyUnavailable,
  webhookNoSecretSource,
  webhookSecretsUnresolved,
} from '../webhooks.messages.js';
import {
  DEFAULT_TOLERANCE_SECONDS,
  type CheckedVerifyOptions,
  type ResolvedWebhookSecrets,
} from './verify-webhook.options.js';
import { MemoryWebhookDedupeStore, type WebhookDedupeStore } from './webhook-dedupe.js';
import { secretKeys, verifyWebhook, type VerifiedWebhookHeaders } from './webhook-verifier.js';

/** The options of one route, its controller's beneath. */
export interface RouteVerifyOptions {
  route: string;
  source: CheckedVerifyOptions['source'];
  tolerance: number;
  dedupe: WebhookDedupeStore | false;
}

/** What the guard leaves on a request it let through, for the dedupe and `@WebhookHeaders()`. */
export interface VerifiedWebhook {
  headers: VerifiedWebhookHeaders;
  options: RouteVerifyOptions;
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
  private readonly routes = new Map<Function, RouteVerifyOptions>();
  private rawBodyLogged = false;

  constructor(private readonly reflector: Reflector) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<Request>();
    // A decorator on both the controller and the route puts the guard there twice.
    if (request[VERIFIED]) return true;
    const options = this.optionsOf(context);
    const body = request.rawBody;
    if (!Buffer.isBuffer(body)) {
      const message = rawBodyUnavailable(options.route);
      if (!this.rawBodyLogged) this.logger.error(message);
      this.rawBodyLogged = true;
      throw new InternalServerErrorException(message);
    }
    const keys = await this.keysOf(options, request);
    const verified = verifyWebhook(body, request.headers, keys, options.tolerance, Date.now());
    if ('status' in verified) {
      throw verified.status === 400
        ? new BadRequestException(verified.message)
        : new UnauthorizedException(verified.message);
    }
    request[VERIFIED] = { headers: verified, options } satisfies VerifiedWebhook;
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
    let options = this.routes.get(handler);
    if (!options) {
      const controller = context.getClass();
      const [own = {}, inherited = {}] = this.reflector.getAll<
        (CheckedVerifyOptions | undefined)[]
      >(VERIFY_WEBHOOK_METADATA, [handler, controller]);
      options = {
        route: `${controller.name}.${handler.name}()`,
        source: own.source ?? inherited.source,
        tolerance: own.tolerance ?? inherited.tolerance ?? DEFAULT_TOLERANCE_SECONDS,
        dedupe: own.dedupe ?? inherited.dedupe ?? new MemoryWebhookDedupeStore(),
      };
      this.routes.set(handler, options);
    }
    return options;
  }
}
