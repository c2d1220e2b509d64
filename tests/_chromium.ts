/**
 * Headless Chromium driven over the DevTools protocol: just enough to load a page, run script in
 * it, and take a screenshot, with no browser download and no npm package.
 */

/** Where Debian's chromium package puts the browser; `CHROMIUM` overrides it. */
export const CHROMIUM_PATH: string = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";

/** Whether there is a browser at {@linkcode CHROMIUM_PATH}. */
export function chromiumFound(): Promise<boolean> {
  return Deno.stat(CHROMIUM_PATH).then(() => true, () => false);
}

const FLAGS = [
  "--headless",
  "--no-sandbox", // CI runs as root, where the sandbox refuses to start
  "--disable-gpu",
  "--no-first-run",
  // this machine has no network but loopback: without these Chromium keeps calling home
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
  "--hide-scrollbars",
  "--remote-debugging-port=0", // a free port, which Chromium prints on stderr
];

type Listener = (params: Record<string, unknown>) => void;

/** A running headless Chromium and its DevTools connection. */
export class Chromium {
  #process: Deno.ChildProcess;
  #socket: WebSocket;
  #profile: string;
  #drained: Promise<string>;
  #nextId = 1;
  #pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  #listeners = new Map<string, Listener[]>();

  private constructor(
    process: Deno.ChildProcess,
    socket: WebSocket,
    profile: string,
    drained: Promise<string>,
  ) {
    this.#process = process;
    this.#socket = socket;
    this.#profile = profile;
    this.#drained = drained;
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.id !== undefined) {
        const pending = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        if (message.error) {
          pending?.reject(new Error(`DevTools: ${JSON.stringify(message.error)}`));
        } else pending?.resolve(message.result);
      } else {
        for (
          const listener of this.#listeners.get(`${message.sessionId}:${message.method}`) ?? []
        ) {
          listener(message.params);
        }
      }
    };
  }

  /**
   * Starts Chromium with a fresh profile and connects to it.
   *
   * @returns The browser, with no page open yet.
   */
  static async launch(): Promise<Chromium> {
    if (!await chromiumFound()) {
      throw new Error(
        `No Chromium at ${CHROMIUM_PATH}: install Debian's chromium package ` +
          "(.ci/run does) or point CHROMIUM at one",
      );
    }
    const profile = await Deno.makeTempDir({ prefix: "mote-chromium-" });
    const process = new Deno.Command(CHROMIUM_PATH, {
      args: [...FLAGS, `--user-data-dir=${profile}`, "about:blank"],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // read stderr to the end, so Chromium never blocks on a full pipe; the address comes first
    const address = Promise.withResolvers<string>();
    const drained = (async () => {
      let log = "";
      for await (const chunk of process.stderr.pipeThrough(new TextDecoderStream())) {
        log += chunk;
        const found = log.match(/DevTools listening on (ws:\/\/\S+)/);
        if (found) address.resolve(found[1]);
      }
      address.reject(new Error(`Chromium exited before listening:\n${log}`));
      return log;
    })();
    // no deadline: a loaded machine may start Chromium slowly; one that exits says so above
    try {
      const socket = new WebSocket(await address.promise);
      await new Promise((resolve, reject) => {
        socket.onopen = resolve;
        socket.onerror = () => reject(new Error("Could not connect to Chromium's DevTools"));
      });
      return new Chromium(process, socket, profile, drained);
    } catch (error) {
      process.kill();
      await process.status;
      await drained;
      await Deno.remove(profile, { recursive: true });
      throw error;
    }
  }

  /** Sends a DevTools command, to the browser or to a page's session. */
  send<T = Record<string, unknown>>(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
  ): Promise<T> {
    const id = this.#nextId++;
    const result = new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
    });
    this.#socket.send(JSON.stringify({ id, method, params, sessionId }));
    return result;
  }

  /** Calls `listener` on each event `method` of the page session `sessionId`. */
  on(sessionId: string, method: string, listener: Listener): void {
    const key = `${sessionId}:${method}`;
    this.#listeners.set(key, [...(this.#listeners.get(key) ?? []), listener]);
  }

  /**
   * Opens a page of the given size.
   *
   * @returns The page.
   */
  async newPage(width: number, height: number): Promise<Page> {
    const { targetId } = await this.send<{ targetId: string }>("Target.createTarget", {
      url: "about:blank",
    });
    const { sessionId } = await this.send<{ sessionId: string }>("Target.attachToTarget", {
      targetId,
      flatten: true,
    });
    const page = new Page(this, sessionId);
    await this.send("Page.enable", {}, sessionId);
    await this.send("Runtime.enable", {}, sessionId);
    await this.send("Emulation.setDeviceMetricsOverride", {
      width,
      height,
      deviceScaleFactor: 1,
      mobile: false,
    }, sessionId);
    return page;
  }

  /** Stops Chromium and removes its profile. */
  async close(): Promise<void> {
    this.#socket.close();
    this.#process.kill();
    await this.#process.status;
    await this.#drained;
    await Deno.remove(this.#profile, { recursive: true });
  }
}

/** One page of a {@linkcode Chromium}. */
export class Page {
  /** Exceptions thrown and errors logged in the page, as they came. */
  readonly errors: string[] = [];
  #browser: Chromium;
  #session: string;

  /** Wraps the DevTools session of a page. */
  constructor(browser: Chromium, session: string) {
    this.#browser = browser;
    this.#session = session;
    browser.on(session, "Runtime.exceptionThrown", (params) => {
      const details = params.exceptionDetails as { exception?: { description?: string } };
      this.errors.push(details.exception?.description ?? JSON.stringify(details));
    });
    browser.on(session, "Runtime.consoleAPICalled", (params) => {
      if (params.type === "error") this.errors.push(JSON.stringify(params.args));
    });
  }

  /** Loads `url` and waits for its load event. */
  async goto(url: string): Promise<void> {
    const loaded = new Promise((resolve) => {
      this.#browser.on(this.#session, "Page.loadEventFired", resolve);
    });
    const { errorText } = await this.#browser.send<{ errorText?: string }>(
      "Page.navigate",
      { url },
      this.#session,
    );
    if (errorText) throw new Error(`Loading ${url} failed: ${errorText}`);
    await loaded;
  }

  /**
   * Evaluates an expression in the page, awaiting it if it is a promise.
   *
   * @returns Its value, copied out as JSON.
   */
  async evaluate<T>(expression: string): Promise<T> {
    const { result, exceptionDetails } = await this.#browser.send<{
      result: { value: T };
      exceptionDetails?: { exception?: { description?: string } };
    }>("Runtime.evaluate", {
      expression,
      awaitPromise: true,
      returnByValue: true,
    }, this.#session);
    if (exceptionDetails) {
      throw new Error(`In the page: ${exceptionDetails.exception?.description}`);
    }
    return result.value;
  }

  /**
   * Takes a screenshot of what the page shows in its viewport.
   *
   * @returns The PNG file's bytes.
   */
  async screenshot(): Promise<Uint8Array<ArrayBuffer>> {
    const { data } = await this.#browser.send<{ data: string }>("Page.captureScreenshot", {
      format: "png",
    }, this.#session);
    return Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  }
}
