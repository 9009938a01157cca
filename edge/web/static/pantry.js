// Progressive enhancement only: every page works without this script.
"use strict";
(function () {
  // Menu: show the running total as quantities change.
  var form = document.getElementById("order-form");
  if (form) {
    var total = document.getElementById("total");
    var update = function () {
      var sum = 0, currency = "";
      form.querySelectorAll("input[type=number]").forEach(function (input) {
        var q = parseInt(input.value, 10);
        var price = input.closest(".item").querySelector(".price");
        if (q > 0 && price) {
          sum += q * parseInt(price.dataset.amount, 10);
          currency = price.textContent.split(" ")[0];
        }
      });
      total.textContent = sum > 0 ? "Total " + currency + " " + (sum / 100).toFixed(2) : "";
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
