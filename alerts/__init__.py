"""Alert: rules over stored articles, routing to agencies, the email outbox and the digest."""
