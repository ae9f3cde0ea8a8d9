import type { FastifyRequest } from "fastify";
import type { Principal, TokenService } from "../auth/tokens.js";
import { AppError } from "../errors/catalogue.js";

/** The authenticated caller of a request; throws 401 when the bearer token is missing or bad. */
export function userOf(request: FastifyRequest, tokens: TokenService): Principal {
  return tokens.authenticate(request.headers.authorization);
}

/** As userOf, and 403 unless the token carries the admin claim. */
export function adminOf(request: FastifyRequest, tokens: TokenService): Principal {
  const principal = tokens.authenticate(request.headers.authorization);
  if (!principal.admin) throw new AppError("forbidden", "This route needs an admin token.");
  return principal;
}
