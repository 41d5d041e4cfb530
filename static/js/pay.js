// The card payment page: Stripe.js turns the card typed here into a payment method id (pm_…)
// and only that id is posted to our server. When the bank asks the customer to authenticate
// (3-D Secure), the page runs it for the one PaymentIntent the server made and then asks the
// server to check the result, whatever the answer (the server asks Stripe). Without JavaScript
// the page offers paying at the counter.
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
    // Authentication pending: finish it for this attempt, then let the server check.
    var authenticate = function () {
      button.disabled = true;
      errors.textContent = "";
      stripe.confirmCardPayment(form.dataset.actionSecret).then(
        function () {
          form.submit();
        },
        function () {
          form.submit();
        }
      );
    };
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      authenticate();
    });
    if (form.dataset.authenticate) {
      authenticate();
    }
    return;
  }

  if (!form.dataset.setupSecret) {
    return;
  }
  var card = stripe.elements().create("card");
  card.mount("#card-element");

  form.addEventListener("submit", function (event) {
    if (document.getElementById("id_payment_method").value) {
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
