"""The technical specialist's diagnostics checklists: the steps support asks for before escalating."""

from __future__ import annotations

from typing import Literal

Symptom = Literal["app_crash", "cannot_sign_in", "card_declined", "transfer_pending", "notifications", "sync"]

CHECKLISTS: dict[Symptom, list[str]] = {
    "app_crash": [
        "Update the Lumora app to the latest version from the app store.",
        "Restart the phone, then open the app again.",
        "Check that the phone has at least 500 MB of free storage.",
        "If it still crashes, note the time and the screen it crashed on for the support team.",
    ],
    "cannot_sign_in": [
        "Check the service status page for an ongoing sign-in incident.",
        "Make sure the phone's date and time are set automatically.",
        "Try mobile data instead of Wi-Fi, or the other way round.",
        "Use 'Forgot passcode' on the sign-in screen if the passcode is refused.",
    ],
    "card_declined": [
        "Check that the card is not frozen in Cards > Settings.",
        "Check the card's spending and ATM limits in Cards > Limits.",
        "Check that the wallet balance covers the payment and any currency exchange fee.",
        "For online payments, check that online payments are switched on for the card.",
    ],
    "transfer_pending": [
        "Check the transfer's status in Home > the transfer > Details.",
        "Transfers to new recipients can be held for a security check for up to 24 hours.",
        "Check the service status page for delays with bank transfers.",
        "Keep the transfer reference; support needs it to trace a payment.",
    ],
    "notifications": [
        "Allow notifications for Lumora in the phone's settings.",
        "Switch on the notification types you want in Profile > Notifications.",
        "Turn off battery-saving mode, which can hold notifications back.",
    ],
    "sync": [
        "Pull down on the Home screen to refresh.",
        "Sign out and back in to refresh the session.",
        "Check the service status page for a degraded component.",
    ],
}
