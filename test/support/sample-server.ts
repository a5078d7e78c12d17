import 'reflect-metadata';
import { ValidationPipe, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../../sample/app.module.js';
import { setupDocs } from '../../sample/setup-docs.js';
import { freePort } from './free-port.js';

/** The sample app, running in this process on a loopback port. */
export interface SampleServer {
  app: INestApplication;
  port: number;
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  baseUrl: string;
  close(): Promise<void>;
}

/**
 * Boots `sample/` as `npm start` does (same module, same global `ValidationPipe` as
 * `sample/main.ts`, same `setupDocs`), but silent and on a free port of 127.0.0.1, so tests can
 * run side by side with each other and a dev server.
 */
export async function startSampleServer(): Promise<SampleServer> {
  const host = '127.0.0.1';
  const port = await freePort(host);
  const app = await NestFactory.create(AppModule, { logger: false });
  try {
    // Keep in step with sample/main.ts: the sample's routes rely on it to answer 400.
    app.useGlobalPipes(new ValidationPipe({ whitelist: true, transform: true }));
    setupDocs(app);
    await app.listen(port, host);
  } catch (error) {
    await app.close();
    throw error;
  }
  return {
    app,
    port,
    baseUrl: `http://${host}:${port}`,
    close: () => app.close(),
  };
}
