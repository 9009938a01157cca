// Progressive enhancement only: every page works without this script.
"use strict";
(function () {
  // major writes an amount of minor units with the currency's decimals,
  // as the server's Money.String does: 350 → "3.50", or "350" for yen.
  var major = function (amount, digits) {
    var s = String(amount);
    if (digits === 0) return s;
    while (s.length <= digits) s = "0" + s;
    return s.slice(0, s.length - digits) + "." + s.slice(s.length - digits);
  };
  // Menu: show the running total as quantities change.
  var form = document.getElementById("order-form");
  if (form) {
    var total = document.getElementById("total");
    var update = function () {
      var sum = 0, currency = "", digits = 2;
      form.querySelectorAll("input[type=number]").forEach(function (input) {
        var q = parseInt(input.value, 10);
        var price = input.closest(".item").querySelector(".price");
        if (q > 0 && price) {
          sum += q * parseInt(price.dataset.amount, 10);
          currency = price.textContent.split(" ")[0];
          var d = parseInt(price.dataset.digits, 10);
          digits = isNaN(d) ? 2 : d;
        }
      });
      total.textContent = sum > 0 ? "Total " + currency + " " + major(sum, digits) : "";
    };
    form.addEventListener("input", update);
    update();
  }
  // Order page: follow the order live over Server-Sent Events.
  var order = document.getElementById("order");
  if (!order || !window.EventSource) return;
  var steps = ["placed", "accepted", "preparing", "ready", "delivered"];
  var show = function (o) {
    var status = document.getElementById("status");
    status.textContent = o.status.charAt(0).toUpperCase() + o.status.slice(1);
    status.className = "status status-" + o.status;
    order.dataset.status = o.status;
    var at = steps.indexOf(o.status);
    document.querySelectorAll("#steps li").forEach(function (li) {
      li.classList.toggle("done", steps.indexOf(li.dataset.step) <= at && at >= 0);
    });
    if (o.status === "cancelled") { window.location.reload(); }
  };
  var es = new EventSource("/api/v1/orders/" + order.dataset.orderId + "/events");
  es.addEventListener("order", function (e) {
    var ev = JSON.parse(e.data);
    if (ev.order) show(ev.order);
    if (ev.order && (ev.order.status === "delivered" || ev.order.status === "cancelled")) es.close();
  });
})();
