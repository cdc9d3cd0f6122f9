// Switchboard's initializer for the vendored Swagger UI (served as
// /docs/init.js; an external file because the page's Content-Security-Policy
// allows no inline script).
//
// It renders this server's own OpenAPI document with "Try it out" on.
// "Authorize" takes a token for either scheme the document declares
// (Authorization: Bearer, or X-API-Key); the token stays in this page's
// memory only (persistAuthorization off), so closing the tab forgets it.
"use strict";
(function () {
  // /docs/init.js -> /openapi.json, also behind a path prefix.
  var spec = new URL("../openapi.json", document.currentScript.src).href;
  window.ui = SwaggerUIBundle({
    url: spec,
    dom_id: "#swagger-ui",
    deepLinking: true,
    tryItOutEnabled: true,
    persistAuthorization: false,
    displayRequestDuration: true,
    filter: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    // No call to the public validator: the page talks to this server only.
    validatorUrl: null
  });
})();
