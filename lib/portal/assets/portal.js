// The tenant portal of nestjs-webhooks: plain browser JavaScript, no build step, no dependency.
// Every value of the API reaches the DOM through textContent (see `el`), never as HTML: a
// receiver's response body, an error or a URL is data, whatever it looks like.
'use strict';

(() => {
  const API = document.body.dataset.api;
  const TOKEN_KEY = 'webhooks-portal-token';
  const PAGE = 25;
  const POLL_MS = 1000;
  const POLL_TIMES = 10;

  // The link carries its token in the fragment, which browsers never send to a server. Keep it
  // for this tab only and take it out of the address bar (and so out of history and bookmarks).
  const token = (() => {
    const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (match) {
      const found = decodeURIComponent(match[1]);
      try {
        sessionStorage.setItem(TOKEN_KEY, found);
      } catch {
        // Storage refused (private mode): the token lives in memory until the tab closes.
      }
      history.replaceState(null, '', location.pathname + location.search);
      return found;
    }
    try {
      return sessionStorage.getItem(TOKEN_KEY);
    } catch {
      return null;
    }
  })();

  const state = {
    session: null,
    events: [],
    endpoints: [],
    endpointsNext: null,
    view: 'endpoints',
    newSecret: null,
    secrets: new Map(),
    log: { next: null, filters: { event: '', status: '', endpoint: '' } },
    messages: new Map(),
    poll: null,
  };

  const main = document.getElementById('portal');
  const alertBox = document.getElementById('alert');
  const statusBox = document.getElementById('status');

  // DOM helpers.

  /**
   * Makes an element. `props`: `class`, `text` (as textContent), the properties of PROPS, else
   * attributes; null, undefined and false are left out. Children are nodes or strings, strings
   * becoming text nodes: nothing here parses HTML.
   */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key in PROPS) node[key] = value;
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    append(node, children);
    return node;
  }
  const PROPS = { disabled: 1, type: 1, value: 1, checked: 1, required: 1 };

  function append(node, children) {
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
  }

  const clear = (node) => node.replaceChildren();

  let uid = 0;
  const nextId = (prefix) => `${prefix}-${++uid}`;

  const time = (iso) =>
    el('time', { datetime: iso, title: iso, text: new Date(iso).toLocaleString() });

  function badge(kind, text) {
    return el('span', { class: `badge badge-${kind}`, text });
  }

  /** A form control with its label (and hint), in a `.field`. */
  function field(label, control, hint) {
    const id = control.id || nextId('f');
    control.id = id;
    const hintNode = hint ? el('span', { class: 'hint', id: `${id}-hint`, text: hint }) : null;
    if (hintNode) control.setAttribute('aria-describedby', hintNode.id);
    return el('div', { class: 'field' }, el('label', { for: id, text: label }), control, hintNode);
  }

  function pretty(value) {
    return JSON.stringify(value, null, 2) ?? 'undefined';
  }

  /** A message body as stored (a string): pretty-printed when it is JSON. */
  function prettyBody(body) {
    if (typeof body !== 'string') return pretty(body);
    try {
      return pretty(JSON.parse(body));
    } catch {
      return body;
    }
  }

  function say(text) {
    // Emptied first so that saying the same thing twice is announced twice.
    statusBox.textContent = '';
    setTimeout(() => (statusBox.textContent = text), 50);
  }

  function showError(error, box = alertBox) {
    const message = error instanceof Error ? error.message : String(error);
    box.textContent = message;
    if (error && error.status === 401) {
      box.append(
        document.createTextNode(' '),
        el('strong', { text: 'This link no longer works: ask for a new portal link.' }),
      );
    }
  }

  function clearError(box = alertBox) {
    box.textContent = '';
  }

  // The API.

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(method, path, body) {
    const headers = {};
    if (token) headers.authorization = `Bearer ${token}`;
    // A session of the app's own login rides on a cookie: its writes need a header that no form
    // of another site can send.
    if (method !== 'GET') headers['x-webhooks-portal'] = '1';
    const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
    // Only with a body: Fastify refuses an empty body declared as JSON.
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(`${API}/${path}`, init);
    } catch {
      throw new ApiError(0, 'The portal could not be reached. Check your connection and retry.');
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      const message =
        data && typeof data.message === 'string'
          ? data.message
          : `The request failed (${response.status}).`;
      throw new ApiError(response.status, message);
    }
    return data;
  }

  const query = (params) => {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) if (value) search.set(key, value);
    return search.toString();
  };

  /** Runs an action of a button: disabled while it runs, its error shown in the alert. */
  async function act(button, work, box = alertBox) {
    clearError();
    clearError(box);
    if (button) button.disabled = true;
    try {
      await work(button);
    } catch (error) {
      showError(error, box);
    } finally {
      if (button && button.isConnected) button.disabled = false;
    }
  }

  /** A button that runs `work` through `act`: disabled meanwhile, its error in the alert. */
  function button(text, work, cls = 'secondary') {
    const node = el('button', { type: 'button', class: cls, text });
    node.addEventListener('click', () => act(node, work));
    return node;
  }

  /**
   * A form handled here (form-action 'none' forbids native submission): `work` runs through
   * `act` with the submit button disabled, its error shown in `box`.
   */
  function form(cls, submit, work, box) {
    const node = el('form', { class: cls, novalidate: true });
    if (submit) node.append(submit);
    node.addEventListener('submit', (event) => {
      event.preventDefault();
      act(node.querySelector('button[type="submit"]'), work, box);
    });
    return node;
  }

  // Navigation.

  const navButtons = [...document.querySelectorAll('nav.views [data-view]')];
  for (const button of navButtons) {
    button.addEventListener('click', () => show(button.dataset.view));
  }

  function show(view) {
    stopPolling();
    state.view = view;
    // The secret of a new endpoint is shown once: leaving the view forgets it.
    state.newSecret = null;
    state.secrets.clear();
    for (const button of navButtons) {
      if (button.dataset.view === view) button.setAttribute('aria-current', 'page');
      else button.removeAttribute('aria-current');
    }
    clearError();
    statusBox.textContent = '';
    if (view === 'catalog') renderCatalog();
    else if (view === 'log') loadLog();
    else loadEndpoints();
  }

  function startPolling(refresh) {
    stopPolling();
    let left = POLL_TIMES;
    state.poll = setInterval(async () => {
      left -= 1;
      try {
        const pending = await refresh();
        if (!pending || left <= 0) stopPolling();
      } catch (error) {
        stopPolling();
        showError(error);
      }
    }, POLL_MS);
  }

  function stopPolling() {
    if (state.poll) clearInterval(state.poll);
    state.poll = null;
  }

  const writable = () => state.session && !state.session.readOnly;

  // Endpoints.

  async function loadEndpoints() {
    clear(main);
    main.append(el('p', { class: 'muted', text: 'Loading endpoints…' }));
    try {
      const page = await api('GET', `endpoints?${query({ limit: PAGE })}`);
      state.endpoints = page.items;
      state.endpointsNext = page.next;
      if (state.view === 'endpoints') renderEndpoints();
    } catch (error) {
      clear(main);
      showError(error);
    }
  }

  function renderEndpoints() {
    clear(main);
    main.append(el('h2', { text: 'Endpoints', tabindex: -1 }));
    if (state.newSecret) main.append(newSecretPanel(state.newSecret));
    if (writable()) main.append(addForm());
    const list = el('div', { class: 'cards', id: 'endpoint-list' });
    if (state.endpoints.length === 0) {
      list.append(el('p', { class: 'empty', text: 'No endpoints yet.' }));
    }
    for (const endpoint of state.endpoints) list.append(endpointCard(endpoint));
    main.append(list);
    if (state.endpointsNext) {
      const more = button('Load more', async () => {
        const page = await api(
          'GET',
          `endpoints?${query({ limit: PAGE, cursor: state.endpointsNext })}`,
        );
        state.endpoints.push(...page.items);
        state.endpointsNext = page.next;
        for (const endpoint of page.items) list.append(endpointCard(endpoint));
        if (!page.next) more.remove();
      });
      main.append(el('p', { class: 'more' }, more));
    }
  }

  function newSecretPanel({ url, secret }) {
    const code = el('code', { class: 'secret', 'aria-label': 'New endpoint secret', text: secret });
    return el(
      'section',
      { class: 'panel panel-secret', 'aria-labelledby': 'new-secret-title' },
      el('h3', {
        id: 'new-secret-title',
        tabindex: -1,
        text: 'Endpoint added: its signing secret',
      }),
      el('p', { class: 'url', text: url }),
      el('p', { class: 'secret-row' }, code, copyButton(secret)),
      el('p', {
        class: 'note',
        text: 'Copy it now: it is shown only this once. Your receiver needs it to check signatures.',
      }),
      button('Done', () => {
        state.newSecret = null;
        renderEndpoints();
      }),
    );
  }

  function copyButton(text) {
    if (!navigator.clipboard) return null;
    const copy = button(
      'Copy',
      () =>
        navigator.clipboard.writeText(text).then(
          () => say('Secret copied to the clipboard.'),
          () => say('Copying was refused: select the secret and copy it.'),
        ),
      'secondary small',
    );
    copy.setAttribute('aria-label', 'Copy secret');
    return copy;
  }

  /** Checkboxes of the catalog's events, in a fieldset. */
  function eventChoices(legend, checked) {
    const box = el('fieldset', { class: 'events' }, el('legend', { text: legend }));
    if (state.events.length === 0) box.append(el('p', { class: 'muted', text: 'No events.' }));
    for (const event of state.events) {
      const input = el('input', {
        type: 'checkbox',
        name: 'events',
        value: event.name,
        checked: checked.includes(event.name),
        id: nextId('ev'),
      });
      box.append(
        el(
          'label',
          { class: 'check', for: input.id },
          input,
          el('span', { text: event.name }),
          event.deprecated ? badge('deprecated', 'deprecated') : null,
        ),
      );
    }
    return box;
  }

  const checkedEvents = (node) =>
    [...node.querySelectorAll('input[name="events"]:checked')].map((input) => input.value);

  function addForm() {
    const error = el('p', { class: 'form-error', role: 'alert' });
    const url = el('input', {
      type: 'url',
      name: 'url',
      required: true,
      autocomplete: 'url',
      placeholder: 'https://example.com/webhooks',
    });
    const description = el('input', { type: 'text', name: 'description', maxlength: 1000 });
    const submit = el('button', { type: 'submit', text: 'Add endpoint' });
    const node = form(
      'panel add-form',
      null,
      async () => {
        const events = checkedEvents(node);
        if (!url.value.trim()) throw new Error('Enter the endpoint URL.');
        if (events.length === 0) throw new Error('Choose at least one event.');
        const body = { url: url.value.trim(), events };
        if (description.value.trim()) body.description = description.value.trim();
        const { secret, ...endpoint } = await api('POST', 'endpoints', body);
        state.endpoints.push(endpoint);
        state.newSecret = { url: endpoint.url, secret };
        renderEndpoints();
        say('Endpoint added. Copy its signing secret now.');
        document.getElementById('new-secret-title')?.focus();
      },
      error,
    );
    node.setAttribute('aria-labelledby', 'add-title');
    append(node, [
      el('h3', { id: 'add-title', text: 'Add an endpoint' }),
      field('Endpoint URL', url, 'Where the webhooks are sent (POST, PUT…), over HTTPS.'),
      eventChoices('Events to receive', []),
      field('Description (optional)', description),
      error,
      el('div', { class: 'actions' }, submit),
    ]);
    return node;
  }

  function health(endpoint) {
    if (endpoint.disabled) return badge('disabled', 'Disabled');
    if (endpoint.failingSince) return badge('failed', 'Failing');
    return badge('delivered', 'Enabled');
  }

  function endpointCard(endpoint) {
    const titleId = nextId('ep');
    const card = el(
      'article',
      { class: 'card endpoint', 'aria-labelledby': titleId, 'data-endpoint-id': endpoint.id },
      el(
        'header',
        { class: 'card-head' },
        el('h3', { class: 'url', id: titleId, text: endpoint.url }),
        health(endpoint),
      ),
    );
    if (endpoint.description) card.append(el('p', { text: endpoint.description }));
    const facts = el(
      'dl',
      { class: 'facts' },
      el('dt', { text: 'Events' }),
      el('dd', {}, ...endpoint.events.map((name) => el('span', { class: 'tag', text: name }))),
      el('dt', { text: 'ID' }),
      el('dd', { class: 'mono', text: endpoint.id }),
      el('dt', { text: 'Created' }),
      el('dd', {}, time(endpoint.createdAt)),
    );
    if (endpoint.failingSince) {
      facts.append(el('dt', { text: 'Failing since' }), el('dd', {}, time(endpoint.failingSince)));
    }
    if (endpoint.disabled && endpoint.disabledReason) {
      facts.append(
        el('dt', { text: 'Disabled because' }),
        el('dd', { text: endpoint.disabledReason }),
      );
    }
    card.append(facts);
    card.append(recentList(endpoint));
    const secret = state.secrets.get(endpoint.id);
    if (secret) {
      card.append(
        el(
          'p',
          { class: 'secret-row' },
          el('span', { class: 'muted', text: 'Signing secret: ' }),
          el('code', { class: 'secret', 'aria-label': 'Endpoint secret', text: secret }),
          copyButton(secret),
        ),
      );
    }
    if (writable()) card.append(endpointActions(endpoint, card));
    return card;
  }

  function recentList(endpoint) {
    const wrap = el('div', { class: 'recent' }, el('h4', { text: 'Latest deliveries' }));
    if (endpoint.recent.length === 0) {
      wrap.append(el('p', { class: 'muted small', text: 'Nothing delivered yet.' }));
      return wrap;
    }
    const list = el('ul', { class: 'recent-list' });
    for (const delivery of endpoint.recent) {
      list.append(
        el(
          'li',
          {},
          badge(delivery.status, delivery.status),
          el('span', { class: 'tag', text: delivery.event }),
          el('span', { class: 'muted small', text: attemptsText(delivery.attempts) }),
          time(delivery.updatedAt),
          delivery.lastError ? el('span', { class: 'error-text', text: delivery.lastError }) : null,
        ),
      );
    }
    wrap.append(list);
    return wrap;
  }

  const attemptsText = (count) => `${count} attempt${count === 1 ? '' : 's'}`;

  /** Replaces an endpoint's card with a fresh one, keeping the keyboard focus on its action. */
  function replaceCard(card, endpoint, focusName) {
    const index = state.endpoints.findIndex(({ id }) => id === endpoint.id);
    if (index >= 0) state.endpoints[index] = endpoint;
    const next = endpointCard(endpoint);
    card.replaceWith(next);
    if (focusName) {
      const target = [...next.querySelectorAll('button')].find(
        (button) => button.textContent === focusName,
      );
      target?.focus();
    }
    return next;
  }

  /** The operations a test event can send, as `event` or `event|method` when it has several. */
  function testChoices(endpoint) {
    const choices = [];
    for (const name of endpoint.events) {
      const event = state.events.find((candidate) => candidate.name === name);
      const operations = event ? event.operations : [];
      if (operations.length > 1) {
        for (const operation of operations) {
          choices.push({
            value: `${name}|${operation.method}`,
            label: `${name} (${operation.method.toUpperCase()})`,
          });
        }
      } else choices.push({ value: name, label: name });
    }
    return choices;
  }

  function endpointActions(endpoint, card) {
    const id = encodeURIComponent(endpoint.id);
    const actions = el('div', { class: 'endpoint-actions' });

    // Send a test event: the catalog's example payload of the chosen event.
    const select = el(
      'select',
      { name: 'event' },
      testChoices(endpoint).map(({ value, label }) => el('option', { value, text: label })),
    );
    const send = el('button', {
      type: 'submit',
      text: 'Send test event',
      disabled: endpoint.disabled,
    });
    const testForm = form('inline-form', send, async () => {
      const [name, method] = select.value.split('|');
      const sent = await api('POST', `endpoints/${id}/test`, { event: name, method });
      say(`Test event sent (message ${sent.messageId}).`);
      // Its delivery turns from pending to delivered or failed within seconds: follow it.
      startPolling(async () => {
        const fresh = await api('GET', `endpoints/${id}`);
        const current = main.querySelector(`[data-endpoint-id="${CSS.escape(endpoint.id)}"]`);
        if (current) replaceCard(current, fresh);
        return fresh.recent.some(({ status }) => status === 'pending');
      });
    });
    testForm.prepend(field('Test event', select));
    actions.append(testForm);

    const buttons = el('div', { class: 'actions' });
    const toggle = button(endpoint.disabled ? 'Enable' : 'Disable', async () => {
      const fresh = await api(
        'POST',
        `endpoints/${id}/${endpoint.disabled ? 'enable' : 'disable'}`,
      );
      replaceCard(card, fresh, fresh.disabled ? 'Enable' : 'Disable');
      say(fresh.disabled ? 'Endpoint disabled.' : 'Endpoint enabled.');
    });
    const revealed = state.secrets.has(endpoint.id);
    const reveal = button(revealed ? 'Hide secret' : 'Reveal secret', async () => {
      if (revealed) state.secrets.delete(endpoint.id);
      else state.secrets.set(endpoint.id, (await api('GET', `endpoints/${id}/secret`)).secret);
      replaceCard(card, endpoint, revealed ? 'Reveal secret' : 'Hide secret');
    });
    const rotate = button('Rotate secret', async () => {
      const { secret } = await api('POST', `endpoints/${id}/secret/rotate`);
      state.secrets.set(endpoint.id, secret);
      replaceCard(card, endpoint, 'Hide secret');
      say('Secret rotated: the old one keeps signing for a grace period.');
    });
    // Two steps instead of window.confirm: the first click asks, the second deletes.
    const remove = button(
      'Delete',
      () => {
        remove.replaceWith(ask);
        confirm.focus();
      },
      'danger',
    );
    const cancel = button('Cancel', () => {
      ask.replaceWith(remove);
      remove.focus();
    });
    const confirm = button(
      'Confirm delete',
      async () => {
        await api('DELETE', `endpoints/${id}`);
        state.endpoints = state.endpoints.filter((item) => item.id !== endpoint.id);
        state.secrets.delete(endpoint.id);
        card.remove();
        say('Endpoint deleted.');
        main.querySelector('h2')?.focus();
      },
      'danger',
    );
    const ask = el(
      'span',
      { class: 'confirm', role: 'group', 'aria-label': 'Confirm deletion' },
      el('span', { class: 'small', text: 'Delete this endpoint?' }),
      confirm,
      cancel,
    );
    buttons.append(toggle, reveal, rotate, remove);
    actions.append(buttons);
    actions.append(editDetails(endpoint, card), recoverDetails(id));
    return actions;
  }

  function editDetails(endpoint, card) {
    const url = el('input', { type: 'url', name: 'url', required: true, value: endpoint.url });
    const description = el('input', { type: 'text', maxlength: 1000, value: endpoint.description });
    const node = form(null, null, async () => {
      const events = checkedEvents(node);
      if (events.length === 0) throw new Error('Choose at least one event.');
      const fresh = await api('PATCH', `endpoints/${encodeURIComponent(endpoint.id)}`, {
        url: url.value.trim(),
        events,
        description: description.value.trim() || null,
      });
      replaceCard(card, fresh);
      say('Endpoint saved.');
    });
    append(node, [
      field('Endpoint URL', url),
      eventChoices('Events to receive', endpoint.events),
      field('Description', description),
      el('button', { type: 'submit', text: 'Save changes' }),
    ]);
    return el('details', { class: 'sub' }, el('summary', { text: 'Edit endpoint' }), node);
  }

  function recoverDetails(id) {
    // datetime-local reads and writes local time: shift "24 h ago" by the zone's offset.
    const since = el('input', { type: 'datetime-local', required: true });
    const ago = new Date(Date.now() - 24 * 3600 * 1000);
    since.value = new Date(ago.getTime() - ago.getTimezoneOffset() * 60000)
      .toISOString()
      .slice(0, 16);
    const node = form(
      'inline-form',
      el('button', { type: 'submit', text: 'Recover' }),
      async () => {
        const date = new Date(since.value);
        if (Number.isNaN(date.getTime())) throw new Error('Enter a date and time.');
        const body = { since: date.toISOString() };
        // One call queues a bounded batch; going on is left to the user, since deliveries that
        // fail again at once would be found again by the next call.
        const { deliveries, more } = await api('POST', `endpoints/${id}/recover`, body);
        const queued = `${deliveries} failed deliver${deliveries === 1 ? 'y' : 'ies'} queued again`;
        say(more ? `${queued}; more are left: recover again for the next ones.` : `${queued}.`);
      },
    );
    node.prepend(field('Redeliver failed deliveries since', since, 'Your local time.'));
    return el(
      'details',
      { class: 'sub' },
      el('summary', { text: 'Recover failed deliveries' }),
      node,
    );
  }

  // Event catalog.

  function renderCatalog() {
    clear(main);
    main.append(
      el('h2', { text: 'Event catalog' }),
      el(
        'p',
        { class: 'muted' },
        'Every event your endpoints can subscribe to, with the JSON schema of its body and an example.',
      ),
    );
    if (state.events.length === 0) main.append(el('p', { class: 'empty', text: 'No events.' }));
    for (const event of state.events) {
      const titleId = nextId('event');
      const card = el(
        'article',
        { class: 'card event', 'aria-labelledby': titleId },
        el(
          'header',
          { class: 'card-head' },
          el('h3', { class: 'mono', id: titleId, text: event.name }),
          event.deprecated ? badge('deprecated', 'Deprecated') : null,
          ...event.tags.map((tag) => el('span', { class: 'tag', text: tag })),
        ),
      );
      if (event.summary) card.append(el('p', { class: 'lead', text: event.summary }));
      if (event.description) card.append(el('p', { text: event.description }));
      for (const operation of event.operations) {
        const op = el(
          'section',
          { class: 'operation' },
          el(
            'h4',
            {},
            el('span', { class: 'method', text: operation.method.toUpperCase() }),
            ' ',
            operation.summary || `${event.name} request body`,
            operation.deprecated ? badge('deprecated', 'Deprecated') : null,
          ),
        );
        if (operation.description) op.append(el('p', { text: operation.description }));
        // Focusable, so that a keyboard can scroll a long schema.
        const code = (title, value) =>
          el('div', {}, el('h5', { text: title }), el('pre', { tabindex: 0, text: pretty(value) }));
        op.append(
          el(
            'div',
            { class: 'code-pair' },
            code('Schema', operation.schema),
            code('Example', operation.example),
          ),
        );
        card.append(op);
      }
      main.append(card);
    }
  }

  // Message log.

  function endpointUrl(id) {
    const endpoint = state.endpoints.find((candidate) => candidate.id === id);
    return endpoint ? endpoint.url : id;
  }

  async function loadLog() {
    clear(main);
    main.append(el('h2', { text: 'Message log' }), logFilters());
    const list = el('div', { class: 'log', id: 'log-list' });
    const more = el('p', { class: 'more' });
    main.append(list, more);
    list.append(el('p', { class: 'muted', text: 'Loading deliveries…' }));
    try {
      // The endpoint filter and the rows show URLs: read the endpoints once if not yet read.
      if (state.endpoints.length === 0) {
        state.endpoints = (await api('GET', `endpoints?${query({ limit: 100 })}`)).items;
        fillEndpointFilter();
      }
      await refreshLog();
    } catch (error) {
      clear(list);
      showError(error);
    }
  }

  function logFilters() {
    const { filters } = state.log;
    const choose = (name, all, values) =>
      el(
        'select',
        { name, id: `filter-${name}` },
        el('option', { value: '', text: all }),
        values.map((value) => el('option', { value, text: value })),
      );
    const event = choose(
      'event',
      'All events',
      state.events.map(({ name }) => name),
    );
    const status = choose('status', 'All statuses', ['pending', 'delivered', 'failed']);
    const endpoint = choose('endpoint', 'All endpoints', []);
    const node = form('filters', null, () => {
      Object.assign(filters, {
        event: event.value,
        status: status.value,
        endpoint: endpoint.value,
      });
      return refreshLog(true);
    });
    node.setAttribute('aria-label', 'Filter deliveries');
    append(node, [
      field('Event', event),
      field('Status', status),
      field('Endpoint', endpoint),
      el(
        'div',
        { class: 'field' },
        el('button', { type: 'submit', class: 'secondary', text: 'Refresh' }),
      ),
    ]);
    event.value = filters.event;
    status.value = filters.status;
    // A filter applies as soon as it is chosen, as Refresh would.
    node.addEventListener('change', () => node.requestSubmit());
    queueMicrotask(fillEndpointFilter);
    return node;
  }

  function fillEndpointFilter() {
    const select = document.getElementById('filter-endpoint');
    if (!select) return;
    select.replaceChildren(
      el('option', { value: '', text: 'All endpoints' }),
      ...state.endpoints.map(({ id, url }) => el('option', { value: id, text: url })),
    );
    select.value = state.log.filters.endpoint;
  }

  const logQuery = (cursor) => query({ ...state.log.filters, limit: PAGE, cursor: cursor || '' });

  /**
   * Reads the first page again and redraws it, keeping open rows open. Polls while a row is
   * pending (a test event or a redelivery is on its way). Resolves to whether one is pending.
   */
  async function refreshLog(announce) {
    const page = await api('GET', `deliveries?${logQuery()}`);
    const list = document.getElementById('log-list');
    if (!list) return false;
    const open = new Set(
      [...list.querySelectorAll('details[open]')].map((row) => row.dataset.deliveryId),
    );
    state.log.next = page.next;
    clear(list);
    if (page.items.length === 0) {
      list.append(el('p', { class: 'empty', text: 'No deliveries match.' }));
    }
    for (const delivery of page.items) list.append(logRow(delivery, open.has(delivery.id)));
    renderMore();
    if (announce)
      say(`${page.items.length} deliveries shown${page.next ? ', more available' : ''}.`);
    const pending = page.items.some(({ status }) => status === 'pending');
    if (pending && !state.poll) startPolling(() => refreshLog(false));
    return pending;
  }

  function renderMore() {
    const box = main.querySelector('p.more');
    if (!box) return;
    clear(box);
    if (!state.log.next) return;
    box.append(
      button('Load more', async () => {
        const page = await api('GET', `deliveries?${logQuery(state.log.next)}`);
        const rows = page.items.map((delivery) => logRow(delivery, false));
        document.getElementById('log-list').append(...rows);
        state.log.next = page.next;
        say(`${page.items.length} more deliveries shown.`);
        renderMore();
        // The keyboard goes on reading where the new rows begin.
        rows[0]?.querySelector('summary').focus();
      }),
    );
  }

  function logRow(delivery, open) {
    const row = el('details', {
      class: `row row-${delivery.status}`,
      'data-delivery-id': delivery.id,
      'data-message-id': delivery.messageId,
      'data-status': delivery.status,
    });
    row.append(
      el(
        'summary',
        {},
        el(
          'span',
          { class: 'row-line' },
          badge(delivery.status, delivery.status),
          el('span', { class: 'row-event', text: delivery.event }),
          delivery.test ? badge('test', 'test') : null,
          el('span', { class: 'row-url', text: endpointUrl(delivery.endpointId) }),
          el('span', { class: 'row-attempts', text: attemptsText(delivery.attempts) }),
          el('span', { class: 'row-time' }, time(delivery.updatedAt)),
        ),
      ),
    );
    const body = el('div', { class: 'row-body' });
    row.append(body);
    // The body is drawn on first opening only: a page of rows stays cheap.
    let drawn = false;
    const draw = () => {
      if (drawn || !row.open) return;
      drawn = true;
      fillRow(body, delivery);
    };
    row.addEventListener('toggle', draw);
    if (open) {
      row.open = true;
      draw();
    }
    return row;
  }

  function fillRow(body, delivery) {
    const facts = el(
      'dl',
      { class: 'facts' },
      el('dt', { text: 'Delivery ID' }),
      el('dd', { class: 'mono', text: delivery.id }),
      el('dt', { text: 'Message ID' }),
      el('dd', { class: 'mono message-id', text: delivery.messageId }),
      el('dt', { text: 'Endpoint' }),
      el('dd', { class: 'url', text: endpointUrl(delivery.endpointId) }),
      el('dt', { text: 'Created' }),
      el('dd', {}, time(delivery.createdAt)),
    );
    if (delivery.nextAttemptAt) {
      facts.append(el('dt', { text: 'Next attempt' }), el('dd', {}, time(delivery.nextAttemptAt)));
    }
    if (delivery.lastError) {
      facts.append(
        el('dt', { text: 'Last error' }),
        el('dd', { class: 'error-text', text: delivery.lastError }),
      );
    }
    body.append(facts);

    if (writable() && delivery.status !== 'pending') {
      const redeliver = button(
        'Redeliver',
        async () => {
          await api('POST', `deliveries/${encodeURIComponent(delivery.id)}/redeliver`);
          say('Redelivery queued.');
          // The row is drawn again (pending, then done): keep the keyboard on it.
          await refreshLog(false);
          const selector = `details[data-delivery-id="${CSS.escape(delivery.id)}"] > summary`;
          main.querySelector(selector)?.focus();
        },
        '',
      );
      body.append(el('div', { class: 'actions' }, redeliver));
    }

    body.append(el('h4', { text: 'Attempts' }));
    if (delivery.attemptLog.length === 0) {
      body.append(el('p', { class: 'muted small', text: 'No attempt yet.' }));
    }
    const attempts = el('ol', { class: 'attempts' });
    for (const attempt of delivery.attemptLog) {
      const item = el(
        'li',
        { class: `attempt attempt-${attempt.outcome}` },
        el(
          'div',
          { class: 'attempt-head' },
          el('strong', { text: `Attempt ${attempt.attempt}` }),
          badge(attempt.outcome, attempt.outcome),
          el('span', {
            class: 'code',
            text: attempt.statusCode === null ? 'no response' : `HTTP ${attempt.statusCode}`,
          }),
          el('span', { class: 'muted small', text: `${attempt.durationMs} ms` }),
          time(attempt.startedAt),
        ),
      );
      if (attempt.error) item.append(el('p', { class: 'error-text', text: attempt.error }));
      if (attempt.responseExcerpt !== null) {
        item.append(
          el('p', { class: 'small muted', text: 'Response body' }),
          el('pre', { class: 'excerpt', tabindex: 0, text: attempt.responseExcerpt || '(empty)' }),
        );
      }
      attempts.append(item);
    }
    body.append(attempts);

    // The message body is read on demand: the list answers without it.
    const message = el('div', { class: 'message' }, el('h4', { text: 'Message body' }));
    body.append(message);
    const cached = state.messages.get(delivery.messageId);
    const showMessage = (found) =>
      message.append(
        el('p', { class: 'small muted', text: `${found.method.toUpperCase()} ${found.event}` }),
        el('pre', { class: 'body', tabindex: 0, text: prettyBody(found.body) }),
      );
    if (cached) showMessage(cached);
    else {
      const loading = el('p', { class: 'muted small', text: 'Loading…' });
      message.append(loading);
      api('GET', `messages/${encodeURIComponent(delivery.messageId)}`)
        .then((found) => {
          state.messages.set(found.id, found);
          loading.remove();
          showMessage(found);
        })
        .catch((error) => {
          loading.textContent = error.message;
          loading.className = 'error-text';
        });
    }
  }

  // Start.

  async function start() {
    try {
      const [session, events] = await Promise.all([api('GET', 'session'), api('GET', 'events')]);
      state.session = session;
      state.events = events.items;
      document.getElementById('tenant-name').textContent = session.tenant;
      document.title = `Webhooks · ${session.tenant}`;
      document.getElementById('read-only-badge').hidden = !session.readOnly;
      if (session.expiresAt) {
        const expiry = document.getElementById('link-expiry');
        expiry.replaceChildren('Link expires ', time(session.expiresAt));
        expiry.hidden = false;
      }
      document.body.classList.toggle('read-only', session.readOnly);
      show('endpoints');
    } catch (error) {
      clear(main);
      main.append(el('h2', { text: 'The portal could not open' }));
      showError(error);
      if (error.status === 401) {
        try {
          sessionStorage.removeItem(TOKEN_KEY);
        } catch {
          // Nothing stored.
        }
      }
    }
  }

  start();
})();
