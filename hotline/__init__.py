"""hotline: an SMS/USSD reporting line."""
