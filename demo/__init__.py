"""The demo shop: products, three named members, a generated population with two years of
orders, and their past conversations. Nothing in production imports this package; it
writes through the service's models like an import would."""
