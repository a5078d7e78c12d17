import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { withWebhooks } from '../lib/index.js';

/** Serves Swagger UI at `/docs` and the document at `/docs-json`, webhooks included. */
export function setupDocs(app: INestApplication): void {
  const config = new DocumentBuilder().setTitle('My app').setVersion('0.1.0').build();
  const document = withWebhooks(app, SwaggerModule.createDocument(app, config));
  SwaggerModule.setup('docs', app, document);
}
