"""The REST-hook API Zapier / Make subscribe through (`devsignal api`)."""
