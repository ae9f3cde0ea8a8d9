import { openCarrier } from "../platform/carrier/open-carrier.js";
import type { ServiceName } from "../platform/config/settings.js";
import { openMailer } from "../platform/mail/open-mailer.js";
import { catalogService } from "../services/catalog/index.js";
import { createFulfillmentService } from "../services/fulfillment/index.js";
import { inventoryService } from "../services/inventory/index.js";
import { loyaltyService } from "../services/loyalty/index.js";
import { createNotificationsService } from "../services/notifications/index.js";
import { ordersService } from "../services/orders/index.js";
import { createPaymentsService } from "../services/payments/index.js";
import { salesService } from "../services/sales/index.js";
import type { ServiceModule } from "../services/service-module.js";
import { openPaymentProvider } from "./payment-provider.js";

/**
 * Every service, in start order: a service starts after those it calls while starting. The
 * adapters a service opens with its own settings (payment provider, carrier, mailer) are chosen
 * here and handed in: services import ports only (checked by .dependency-cruiser.cjs).
 */
export const SERVICE_MODULES: readonly ServiceModule[] = [
  catalogService,
  inventoryService,
  salesService,
  ordersService,
  createPaymentsService(openPaymentProvider),
  createFulfillmentService(openCarrier),
  createNotificationsService(openMailer),
  loyaltyService,
];

export function serviceModule(name: ServiceName): ServiceModule {
  return SERVICE_MODULES.find((module) => module.name === name)!;
}
