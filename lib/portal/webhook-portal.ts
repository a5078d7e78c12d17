import { checkFields, checkString, type ArgumentSite } from '../webhooks.arguments.js';
import { WebhookArgumentError } from '../webhooks.errors.js';
import { argumentOfWrongType, portalLinksNeedSecret } from '../webhooks.messages.js';
import { isLinkTtl, LINK_TTL_EXPECTED, type ResolvedPortalOptions } from './portal.options.js';
import { PortalLinkSigner } from './portal-links.js';
import type { WebhookStore } from '../interfaces/webhook-store.interface.js';

/** Options of `WebhookPortal.createLink()`. */
export interface CreatePortalLinkOptions {
  /** How long the link is valid, in ms; default the portal's `linkTtl` (1 h). */
  expiresIn?: number;
  /** The link can look at everything of the tenant but change nothing. */
  readOnly?: boolean;
}

/** A link to the portal for one tenant. */
export interface WebhookPortalLink {
  /** The page with the token in its fragment, which browsers never send to a server. */
  url: string;
  /** The bearer token the page sends to the portal API. */
  token: string;
  expiresAt: Date;
}

/** The longest tenant a link names. */
const MAX_TENANT_LENGTH = 255;
const LINK = { call: 'WebhookPortal.createLink', argument: 'options' };

/** Issues and revokes the links that open the tenant portal. */
export class WebhookPortal {
  private readonly signer: PortalLinkSigner | undefined;

  constructor(
    private readonly options: ResolvedPortalOptions,
    private readonly store: WebhookStore,
  ) {
    this.signer = options.secret === undefined ? undefined : new PortalLinkSigner(options.secret);
  }

  /** The signer of the links, for the portal's own checks; `undefined` without a `secret`. */
  get links(): PortalLinkSigner | undefined {
    return this.signer;
  }

  /**
   * A signed link to the portal of `tenant`, valid for `expiresIn` (default `linkTtl`) until
   * `revokeLinks(tenant)`; hand it to that tenant only (whoever holds it is that tenant there).
   */
  async createLink(
    tenant: string,
    options: CreatePortalLinkOptions = {},
  ): Promise<WebhookPortalLink> {
    checkTenant(tenant, { call: 'WebhookPortal.createLink', argument: 'tenant' });
    const fields = checkFields(options, LINK, ['expiresIn', 'readOnly'], true);
    const { expiresIn = this.options.linkTtl, readOnly = false } = fields;
    if (!isLinkTtl(expiresIn)) throw refused('options.expiresIn', LINK_TTL_EXPECTED, expiresIn);
    if (typeof readOnly !== 'boolean') throw refused('options.readOnly', 'true or false', readOnly);
    if (!this.signer) throw new Error(portalLinksNeedSecret());
    const generation = await this.store.portalLinkGeneration(tenant);
    const issuedAt = Date.now();
    const expiresAt = issuedAt + expiresIn;
    const token = this.signer.sign({ tenant, readOnly, generation, issuedAt, expiresAt });
    return {
      url: `${this.options.baseUrl}/${this.options.path}#token=${token}`,
      token,
      expiresAt: new Date(expiresAt),
    };
  }

  /**
   * Refuses every link issued for `tenant` so far, in every process on the same store; links
   * made afterwards work.
   */
  async revokeLinks(tenant: string): Promise<void> {
    checkTenant(tenant, { call: 'WebhookPortal.revokeLinks', argument: 'tenant' });
    await this.store.revokePortalLinks(tenant);
  }
}

function checkTenant(tenant: unknown, site: ArgumentSite): asserts tenant is string {
  checkString(tenant, site, { nonEmpty: true, maxLength: MAX_TENANT_LENGTH });
}

const refused = (argument: string, expected: string, value: unknown) =>
  new WebhookArgumentError(argument, argumentOfWrongType(LINK.call, argument, expected, value));
