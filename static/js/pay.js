// The card payment page: Stripe.js turns the card typed here into a payment method id (pm_…,
// or card_… with localstripe) and only that id is posted to our server, which authorises the
// order with one PaymentIntent. When the bank asks the customer to authenticate (3-D Secure),
// the page runs it once, for that PaymentIntent, and then asks the server to check the
// result, whatever the answer (the server asks Stripe). Without JavaScript the page offers
// paying at the counter.
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

  var mount = document.getElementById("card-element");
  if (!mount) {
    return;
  }
  var card = stripe.elements().create("card");
  card.mount(mount);

  // The card as a payment method id, made by Stripe from the card typed here: resolves to
  // {id} or {error}. Stripe.js answers createPaymentMethod with {paymentMethod} or {error};
  // localstripe's stand-in (tests, the demo) answers it with nothing, and there the card's id
  // from createToken (card_…) is the payment method instead.
  function paymentMethodId() {
    var made =
      typeof stripe.createPaymentMethod === "function"
        ? stripe.createPaymentMethod({ type: "card", card: card })
        : undefined;
    return Promise.resolve(made).then(function (result) {
      if (result && result.error) {
        return { error: result.error };
      }
      if (result && result.paymentMethod && result.paymentMethod.id) {
        return { id: result.paymentMethod.id };
      }
      return stripe.createToken(card).then(function (tokenised) {
        var token = tokenised && tokenised.token;
        if (token && token.card && token.card.id) {
          return { id: token.card.id };
        }
        return { error: (tokenised && tokenised.error) || {} };
      });
    });
  }

  form.addEventListener("submit", function (event) {
    if (document.getElementById("id_payment_method").value) {
      return;
    }
    event.preventDefault();
    button.disabled = true;
    errors.textContent = "";
    paymentMethodId().then(
      function (result) {
        if (!result.id) {
          fail(result.error.message || form.dataset.failed);
          return;
        }
        // Only this id reaches our server, which makes the one PaymentIntent of the attempt
        // and, when the bank asks, sends the page back to run 3-D Secure for it.
        document.getElementById("id_payment_method").value = result.id;
        form.submit();
      },
      function () {
        fail(form.dataset.failed);
      }
    );
  });
})();
