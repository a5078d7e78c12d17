import { Webhook, WebhookPost } from '../lib/index.js';
import { Subscription } from './subscription.dto.js';

@Webhook('new-subscription')
export class NewSubscriptionWebhook {
  @WebhookPost({
    description:
      "When a new user subscribes to your service we'll send you a POST request with this\n" +
      'data to the URL that you register for the event `new-subscription` in the dashboard.',
  })
  newSubscription(body: Subscription) {}
}
