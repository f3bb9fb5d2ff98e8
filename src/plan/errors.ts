/** A request the privileged side refuses (the front end's data is never trusted). */
export class RequestError extends Error {}
