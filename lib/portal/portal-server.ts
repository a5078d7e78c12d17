import { readFileSync } from 'node:fs';
import { Logger, type OnModuleInit } from '@nestjs/common';
import type { AbstractHttpAdapter, HttpAdapterHost } from '@nestjs/core';
import { WEBHOOKS_LOGGER_CONTEXT } from '../webhooks.constants.js';
import { portalRequestFailed, portalWithoutHttpServer } from '../webhooks.messages.js';
import { readOnlyRefusal, type PortalApi } from './portal-api.js';
import type { PortalAccess } from './portal-access.js';
import { errorBody, toPortalError } from './portal-errors.js';
import { portalDocument } from './portal-openapi.js';
import { portalRoutes, type PortalRoute } from './portal-routes.js';
import type { ResolvedPortalOptions } from './portal.options.js';

/** What the adapters hand a route handler: Express's `req` or Fastify's request. */
interface AdapterRequest {
  method?: string;
  url?: string;
  headers: Record<string, unknown>;
  params?: Record<string, string>;
  query?: Record<string, unknown>;
  body?: unknown;
}

const ASSETS = new URL('./assets/', import.meta.url);

// The page loads its script and style from the portal itself and nothing else; it may be framed
// by the app's own pages only. The API's answers are JSON that nothing should render.
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};
const ASSET_HEADERS = {
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-cache',
};
const API_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/**
 * Mounts the portal on the app's HTTP server, as `@nestjs/swagger` mounts its UI: routes of
 * the adapter itself (Express or Fastify), registered as the module initializes. So the path
 * comes from the options (of `forRootAsync` too), and nothing of it reaches the app's Swagger
 * document, global prefix, guards, pipes or filters: the portal authenticates every API request
 * itself, and answers every error in JSON.
 */
export class PortalServer implements OnModuleInit {
  private readonly logger = new Logger(WEBHOOKS_LOGGER_CONTEXT);
  readonly routes: PortalRoute[];

  constructor(
    private readonly options: ResolvedPortalOptions,
    private readonly access: PortalAccess,
    api: PortalApi,
    private readonly adapterHost: HttpAdapterHost,
  ) {
    this.routes = portalRoutes(api);
  }

  onModuleInit() {
    const adapter = this.adapterHost.httpAdapter;
    if (!adapter) {
      this.logger.warn(portalWithoutHttpServer());
      return;
    }
    const base = `/${this.options.path}`;
    const api = `${base}/api`;
    const page = readAsset('index.html').replaceAll('%BASE%', base);
    const script = readAsset('portal.js');
    const style = readAsset('portal.css');
    const icon = readAsset('favicon.svg');
    const document = JSON.stringify(portalDocument(this.routes, api));

    const servePage = (_request: unknown, response: unknown) =>
      send(adapter, response, 200, page, {
        ...PAGE_HEADERS,
        'content-type': 'text/html; charset=utf-8',
      });
    adapter.get(base, servePage);
    adapter.get(`${base}/assets/portal.js`, (_request: unknown, response: unknown) =>
      send(adapter, response, 200, script, {
        ...ASSET_HEADERS,
        'content-type': 'text/javascript; charset=utf-8',
      }),
    );
    adapter.get(`${base}/assets/portal.css`, (_request: unknown, response: unknown) =>
      send(adapter, response, 200, style, {
        ...ASSET_HEADERS,
        'content-type': 'text/css; charset=utf-8',
      }),
    );
    adapter.get(`${base}/assets/favicon.svg`, (_request: unknown, response: unknown) =>
      send(adapter, response, 200, icon, {
        ...ASSET_HEADERS,
        'content-type': 'image/svg+xml',
      }),
    );
    adapter.get(`${api}/openapi.json`, (_request: unknown, response: unknown) =>
      send(adapter, response, 200, document, API_HEADERS),
    );
    for (const route of this.routes) {
      const register = adapter[route.method.toLowerCase() as 'get' | 'post' | 'patch' | 'delete'];
      register.call(adapter, `${api}/${route.path}`, (request: unknown, response: unknown) => {
        void this.handle(adapter, route, request as AdapterRequest, response);
      });
    }
  }

  private async handle(
    adapter: AbstractHttpAdapter,
    route: PortalRoute,
    request: AdapterRequest,
    response: unknown,
  ): Promise<void> {
    let status: number;
    let body: unknown;
    let headers: Record<string, string> = API_HEADERS;
    try {
      const session = await this.access.authenticate(request, request.headers, route.write);
      if (route.write && session.readOnly) throw readOnlyRefusal();
      ({ status, body } = await route.run({
        session,
        params: request.params ?? {},
        query: request.query ?? {},
        body: request.body,
      }));
    } catch (error) {
      const refusal = toPortalError(error);
      if (refusal.log) {
        this.logger.error(
          portalRequestFailed(route.method, route.path, (error as Error)?.message ?? String(error)),
          (error as Error)?.stack,
        );
      }
      status = refusal.status;
      body = errorBody(refusal);
      headers = { ...API_HEADERS, ...refusal.headers };
    }
    if (body === undefined) {
      const { 'content-type': _none, ...bodiless } = headers;
      send(adapter, response, status, undefined, bodiless);
    } else {
      send(adapter, response, status, JSON.stringify(body), headers);
    }
  }
}

function send(
  adapter: AbstractHttpAdapter,
  response: unknown,
  status: number,
  body: string | undefined,
  headers: Record<string, string>,
): void {
  for (const [name, value] of Object.entries(headers)) adapter.setHeader(response, name, value);
  adapter.reply(response, body, status);
}

function readAsset(name: string): string {
  return readFileSync(new URL(name, ASSETS), 'utf8');
}
