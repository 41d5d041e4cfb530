// The card payment page: Stripe.js turns the card typed here into a payment method id (pm_…)
// and only that id is posted to our server; after a 3-D Secure challenge the page asks the
// server to check the result. Without JavaScript the page offers paying at the counter.
(function () {
  "use strict";
  var form = document.getElementById("pay-form");
  if (!form || typeof Stripe === "undefined") {
    return;
  }
  var stripe = Stripe(form.dataset.stripeKey);
  var errors = document.getElementById("card-errors");
  var button = document.getElementById("pay-button");

  function fail(message) {
    errors.textContent = message;
    button.disabled = false;
  }

  if (form.dataset.actionSecret) {
    // The bank asks the customer to authenticate: run it, then let the server check.
    button.disabled = true;
    stripe.confirmCardPayment(form.dataset.actionSecret).then(function (result) {
      var intent = result && result.paymentIntent;
      if (result.error || !intent || intent.status === "requires_payment_method") {
        fail(form.dataset.authFailed);
        form.dataset.actionSecret = "";
        return;
      }
      document.getElementById("id_check").value = "1";
      form.submit();
    });
  }

  if (!form.dataset.setupSecret) {
    return;
  }
  var card = stripe.elements().create("card");
  card.mount("#card-element");

  form.addEventListener("submit", function (event) {
    if (document.getElementById("id_payment_method").value || document.getElementById("id_check").value) {
      return;
    }
    event.preventDefault();
    button.disabled = true;
    errors.textContent = "";
    stripe
      .confirmCardSetup(form.dataset.setupSecret, { payment_method: { card: card } })
      .then(function (result) {
        var setup = result && result.setupIntent;
        if (result.error || !setup || !setup.payment_method) {
          fail((result.error && result.error.message) || form.dataset.failed);
          return;
        }
        var pm = setup.payment_method;
        document.getElementById("id_payment_method").value = typeof pm === "string" ? pm : pm.id;
        form.submit();
      }, function () {
        fail(form.dataset.failed);
      });
  });
})();
