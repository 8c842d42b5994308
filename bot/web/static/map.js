/* Maps with Leaflet: Seoul's 25 districts (offline GeoJSON, shaded by proposals) and the pins.
   Tiles only when the page names a tile server (TILE_URL); the tables stay the reference. */
"use strict";
(function () {
  if (!window.L) return;
  var districts = null;
  function getDistricts(url) {
    if (!districts) districts = fetch(url).then(function (r) { return r.json(); });
    return districts;
  }
  function shade(count, most) {
    if (!count) return "#f2f4f7";
    var t = Math.min(1, count / (most || 1));
    var light = Math.round(88 - 48 * t);
    return "hsl(211, 70%, " + light + "%)";
  }
  function baseMap(element) {
    var map = L.map(element, { scrollWheelZoom: false, attributionControl: !!element.dataset.tiles });
    if (element.dataset.tiles) {
      L.tileLayer(element.dataset.tiles, { attribution: element.dataset.attribution || "", maxZoom: 18 }).addTo(map);
    }
    return map;
  }
  function city(element) {
    var map = baseMap(element);
    map.setView([37.5665, 126.978], 10);
    Promise.all([
      getDistricts(element.dataset.districts),
      fetch(element.dataset.pins).then(function (r) { return r.json(); })
    ]).then(function (loaded) {
      var shapes = loaded[0], pins = loaded[1];
      var most = 0;
      Object.keys(pins.by_district).forEach(function (code) { most = Math.max(most, pins.by_district[code].proposals); });
      var layer = L.geoJSON(shapes, {
        style: function (feature) {
          var entry = pins.by_district[feature.properties.code] || { proposals: 0 };
          return { color: "#4a5866", weight: 1, fillColor: shade(entry.proposals, most), fillOpacity: 0.75 };
        },
        onEachFeature: function (feature, shape) {
          var entry = pins.by_district[feature.properties.code];
          if (entry) shape.bindTooltip(entry.name + " · " + entry.proposals + " / " + entry.waste);
        }
      }).addTo(map);
      map.fitBounds(layer.getBounds());
      var proposals = L.layerGroup(pins.proposals.map(function (pin) {
        var marker = L.circleMarker([pin.lat, pin.lon], { radius: 7, color: "#0b5cad", fillColor: "#3d8bfd", fillOpacity: 0.9 });
        var link = document.createElement("a");
        link.href = pin.url;
        link.textContent = "#" + pin.id + " " + pin.title + " (" + pin.status + ")";
        return marker.bindPopup(link);
      })).addTo(map);
      var waste = L.layerGroup(pins.waste.map(function (pin) {
        return L.circleMarker([pin.lat, pin.lon], { radius: 6, color: "#9a3b00", fillColor: "#ff8a3d", fillOpacity: 0.9 })
          .bindPopup(document.createTextNode(pin.status));
      })).addTo(map);
      var overlays = {};
      overlays[element.dataset.labelDistricts] = layer;
      overlays[element.dataset.labelProposals] = proposals;
      overlays[element.dataset.labelWaste] = waste;
      L.control.layers(null, overlays, { collapsed: false }).addTo(map);
      element.dataset.ready = "1";
    });
  }
  function point(element) {
    var map = baseMap(element);
    var at = [Number(element.dataset.lat), Number(element.dataset.lon)];
    map.setView(at, 13);
    getDistricts("/map/districts.geojson").then(function (shapes) {
      L.geoJSON(shapes, { style: { color: "#4a5866", weight: 1, fillColor: "#e8edf2", fillOpacity: 0.6 } }).addTo(map);
      L.circleMarker(at, { radius: 9, color: "#0b5cad", fillColor: "#3d8bfd", fillOpacity: 0.95 }).addTo(map);
      element.dataset.ready = "1";
    });
  }
  window.civicMaps = function (scope) {
    (scope || document).querySelectorAll("[data-map]").forEach(function (element) {
      if (element.dataset.started) return;
      element.dataset.started = "1";
      if (element.dataset.map === "city") city(element); else point(element);
    });
  };
  window.civicMaps(document);
})();
