/* Local preview only (`extranet serve`): reload this tab when a new build is ready.
 *
 * The preview server streams the id of its latest build as Server-Sent Events on
 * /__extranet/events (same origin, so `default-src 'self'` allows it). The id of the build
 * this page came from is read from its Server-Timing header; a different id means reload.
 * Published sites never link this file.
 */
(function () {
  "use strict";
  var EVENTS = "/__extranet/events";

  function pageBuild() {
    try {
      var nav = performance.getEntriesByType("navigation")[0];
      var timings = (nav && nav.serverTiming) || [];
      for (var i = 0; i < timings.length; i++) {
        if (timings[i].name === "build") { return timings[i].description; }
      }
    } catch (e) { /* older browser: the first id received becomes the reference */ }
    return null;
  }

  var known = pageBuild();

  function seen(id) {
    if (!id) { return; }
    if (known === null) { known = id; return; }
    if (id !== known) { known = id; window.location.reload(); }
  }

  // EventSource reconnects by itself (after `retry` ms) when the server restarts.
  var source = new EventSource(EVENTS);
  source.addEventListener("build", function (event) { seen(event.data); });
  window.addEventListener("pagehide", function () { source.close(); });
}());
