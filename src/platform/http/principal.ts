import type { FastifyRequest } from "fastify";
import type { Principal, TokenService } from "../auth/tokens.js";
import { AppError } from "../errors/catalogue.js";

/**
 * The authenticated caller of a request; throws 401 when the bearer token is missing or bad, and
 * 403 for a service token: those are for `/internal/*` only, so one that leaks buys nothing, reads
 * no order and is no admin.
 */
export function userOf(request: FastifyRequest, tokens: TokenService): Principal {
  const principal = tokens.authenticate(request.headers.authorization);
  if (principal.service) throw new AppError("forbidden", "Service tokens are for internal routes only.");
  return principal;
}

/** As userOf, and 403 unless the token carries the admin claim. */
export function adminOf(request: FastifyRequest, tokens: TokenService): Principal {
  const principal = userOf(request, tokens);
  if (!principal.admin) throw new AppError("forbidden", "This route needs an admin token.");
  return principal;
}
