/* The map of aid activities (/carte/): Leaflet, served by the portal, with no tile layer needed.
 * Every URL and label comes from the map element's data- attributes; popups are built with DOM
 * calls (textContent), never from HTML strings. Without JavaScript the page lists the same
 * regions and activities below the map. */
(function () {
  "use strict";
  var el = document.getElementById("carte");
  if (!el || typeof L === "undefined") { return; }
  var data = el.dataset;
  var MALI = [[10.1, -12.3], [25.1, 4.3]];
  var POINT_ZOOM = 7;            // from this zoom on, places replace the region bubbles
  var BRAND = "#1f5f8b", POINT = "#a11d33";
  var CLASSES = ["#deebf7", "#9ecae1", "#6baed6", "#3182bd", "#08519c"];
  var MAX_LISTED = 10;
  var COLON = document.documentElement.lang === "fr" ? "\u00a0: " : ": ";

  var fallback = el.querySelector(".map-fallback");
  if (fallback) { fallback.remove(); }
  var map = L.map(el, {zoomSnap: 0.5, minZoom: 4, maxZoom: 13, maxBounds: [[0, -25], [35, 17]]});
  map.fitBounds(MALI);
  if (data.tileUrl) {
    L.tileLayer(data.tileUrl, {attribution: data.tileAttribution || "", maxZoom: 18}).addTo(map);
  }

  function getJSON(url) {
    return fetch(url, {credentials: "same-origin", headers: {Accept: "application/geo+json"}})
      .then(function (response) {
        if (!response.ok) { throw new Error(url + " answered " + response.status); }
        return response.json();
      });
  }

  function node(tag, className, text) {
    var n = document.createElement(tag);
    if (className) { n.className = className; }
    if (text !== undefined && text !== null) { n.textContent = text; }
    return n;
  }

  function link(href, text) {
    var a = node("a", "", text);
    a.href = href;
    return a;
  }

  function fact(box, label, value) {
    if (!value && value !== 0) { return; }
    var p = node("p", "map-fact");
    p.appendChild(node("span", "", label + COLON));
    p.appendChild(node("strong", "", String(value)));
    box.appendChild(p);
  }

  /* A region (bubble or boundary): its figures, its main activities, a link to the list and,
   * from a bubble, a button that zooms in on the region's places. */
  function regionPopup(props, latlng) {
    var box = node("div", "map-popup");
    box.appendChild(node("h3", "", props.name || props.region_name));
    fact(box, data.labelActivities, props.activities);
    fact(box, data.labelCommitted, props.committed_label);
    if (props.top && props.top.length) {
      var list = node("ul", "map-popup-list");
      props.top.forEach(function (a) {
        var li = node("li");
        li.appendChild(link(a.url, a.title));
        list.appendChild(li);
      });
      box.appendChild(list);
    }
    var more = node("p", "map-more");
    more.appendChild(link(props.url, data.labelMore));
    box.appendChild(more);
    if (latlng) {
      var zoom = node("button", "map-zoom", data.labelZoom);
      zoom.type = "button";
      zoom.addEventListener("click", function () {
        map.closePopup();
        map.setView(latlng, POINT_ZOOM);
      });
      box.appendChild(zoom);
    }
    return box;
  }

  /* A place: the activities located there. */
  function placePopup(features) {
    var first = features[0].properties;
    var box = node("div", "map-popup");
    var title = first.place || first.region_name;
    box.appendChild(node("h3", "", title + (first.region_name && first.place ?
      " (" + first.region_name + ")" : "")));
    var list = node("ul", "map-popup-list");
    features.slice(0, MAX_LISTED).forEach(function (f) {
      var p = f.properties;
      var li = node("li");
      li.appendChild(link(p.url, p.title));
      var meta = [p.partner, p.status_label, p.committed_label].filter(Boolean).join(" · ");
      if (p.exactness !== "1") { meta += " · " + data.labelApproximate; }
      li.appendChild(node("span", "meta", meta));
      list.appendChild(li);
    });
    box.appendChild(list);
    if (features.length > MAX_LISTED) {
      var more = node("p", "map-more");
      var target = new URL(data.listUrl, window.location.href);
      target.searchParams.set("region", first.region);
      more.appendChild(link(target.pathname + target.search, data.labelMore));
      box.appendChild(more);
    }
    return box;
  }

  function radius(value, max) {
    return 7 + 23 * Math.sqrt(max > 0 ? value / max : 0);
  }

  /* Region bubbles, sized by commitments (by activity count when no amount is known). */
  function bubbles(collection) {
    var layer = L.featureGroup();
    var props = collection.features.map(function (f) { return f.properties; });
    var byMoney = props.some(function (p) { return p.committed > 0; });
    var size = function (p) { return byMoney ? p.committed : p.activities; };
    var max = Math.max.apply(null, props.map(size).concat([0]));
    collection.features.forEach(function (f) {
      var c = f.geometry.coordinates;
      var at = L.latLng(c[1], c[0]);
      L.circleMarker(at, {
        radius: radius(size(f.properties), max), className: "map-bubble", color: BRAND,
        weight: 1.5, fillColor: BRAND, fillOpacity: 0.45
      }).bindPopup(regionPopup(f.properties, at), {maxHeight: 300}).bindTooltip(
        node("span", "", f.properties.region_name + COLON + f.properties.activities)).addTo(layer);
    });
    return layer;
  }

  /* Places: one point per distinct position, listing the activities there. */
  function points(collection) {
    var layer = L.featureGroup();
    var groups = {};
    var order = [];
    collection.features.forEach(function (f) {
      var key = f.geometry.coordinates.join(",");
      if (!groups[key]) { groups[key] = []; order.push(key); }
      groups[key].push(f);
    });
    order.forEach(function (key) {
      var features = groups[key];
      var c = features[0].geometry.coordinates;
      var exact = features.some(function (f) { return f.properties.exactness === "1"; });
      L.circleMarker([c[1], c[0]], {
        radius: Math.min(14, 5 + 2 * Math.log(features.length + 1)), className: "map-point",
        color: POINT, weight: 2, fillColor: exact ? POINT : "#fff", fillOpacity: exact ? 0.8 : 0.9,
        dashArray: exact ? null : "3 2"
      }).bindPopup(placePopup(features), {maxHeight: 320}).bindTooltip(
        node("span", "", (features[0].properties.place || "") + COLON + features.length)).addTo(layer);
    });
    return layer;
  }

  function breaks(values) {
    var sorted = values.filter(function (v) { return v > 0; }).sort(function (a, b) {
      return a - b;
    });
    if (!sorted.length) { return []; }
    return CLASSES.slice(1).map(function (_, i) {
      return sorted[Math.floor(sorted.length * (i + 1) / CLASSES.length)] ||
        sorted[sorted.length - 1];
    });
  }

  function colour(value, limits) {
    if (!(value > 0)) { return "#f4f4f4"; }
    var i = 0;
    while (i < limits.length && value >= limits[i]) { i += 1; }
    return CLASSES[i];
  }

  function legend(limits, collection) {
    var control = L.control({position: "bottomright"});
    control.onAdd = function () {
      var box = node("div", "map-legend");
      box.appendChild(node("strong", "", data.labelLegend));
      var labels = {};
      collection.features.forEach(function (f) {
        var c = colour(f.properties.committed, limits);
        if (!labels[c] || f.properties.committed > labels[c].value) {
          labels[c] = {value: f.properties.committed, text: f.properties.committed_label};
        }
      });
      ["#f4f4f4"].concat(CLASSES).forEach(function (c) {
        if (!labels[c]) { return; }
        var row = node("div", "map-legend-row");
        var swatch = node("i");
        swatch.style.background = c;
        row.appendChild(swatch);
        row.appendChild(node("span", "", c === "#f4f4f4" ? data.labelNone :
          "≤ " + labels[c].text));
        box.appendChild(row);
      });
      return box;
    };
    return control;
  }

  function choropleth(collection) {
    var limits = breaks(collection.features.map(function (f) { return f.properties.committed; }));
    var layer = L.geoJSON(collection, {
      style: function (f) {
        return {className: "map-boundary", color: "#555", weight: 1,
          fillColor: colour(f.properties.committed, limits), fillOpacity: 0.75};
      },
      onEachFeature: function (f, shape) {
        shape.bindPopup(regionPopup(f.properties), {maxHeight: 300});
      }
    });
    legend(limits, collection).addTo(map);
    return layer;
  }

  function outline(collection) {
    var tiles = Boolean(data.tileUrl);
    return L.geoJSON(collection, {
      interactive: false,
      attribution: data.labelOutline,
      style: function (f) {
        var mali = f.properties.mali;
        return {className: "map-outline", color: mali ? "#444" : "#aaa", weight: mali ? 1.5 : 1,
          fillColor: mali ? "#fffdf6" : "#ecebe6", fillOpacity: tiles ? 0 : 1};
      }
    });
  }

  var regionLayer = null, pointLayer = null;
  function showForZoom() {
    var close = Boolean(data.region) || map.getZoom() >= POINT_ZOOM;
    [[regionLayer, !close], [pointLayer, close]].forEach(function (pair) {
      if (!pair[0]) { return; }
      if (pair[1] && !map.hasLayer(pair[0])) { pair[0].addTo(map); }
      if (!pair[1] && map.hasLayer(pair[0])) { map.removeLayer(pair[0]); }
    });
  }
  map.on("zoomend", showForZoom);

  var loads = [getJSON(data.outlineUrl).then(function (c) { outline(c).addTo(map); })];
  if (data.boundariesUrl) {
    loads.push(getJSON(data.boundariesUrl).then(function (c) { choropleth(c).addTo(map); }));
  }
  Promise.all(loads).then(function () {
    return Promise.all([getJSON(data.regionsUrl), getJSON(data.pointsUrl)]);
  }).then(function (results) {
    regionLayer = bubbles(results[0]);
    pointLayer = points(results[1]);
    if (data.region && results[1].features.length) {
      map.fitBounds(pointLayer.getBounds(), {maxZoom: POINT_ZOOM + 1, padding: [30, 30]});
    }
    showForZoom();
    el.setAttribute("data-ready", "1");
  }).catch(function (error) {
    el.setAttribute("data-error", String(error));
    throw error;
  });
})();
