"""The demo shop's commands (``scripts/run`` calls them on first start).

    python -m demo seed [--customers N]              # three named members, then N generated (HX_DEMO_CUSTOMERS)
    python -m demo generate-shop [--customers N] [--seed S]    # a generated population on its own
    python -m demo generate-conversations [--if-empty]         # chats, handoffs and surveys for them
"""
from __future__ import annotations

import argparse
import sys

from sqlalchemy import select

from api.core.config import get_settings
from api.db.session import get_sessionmaker
from api.models import Conversation
from demo.conversations import generate_demo_conversations
from demo.members import demo_customers_from_env, seed
from demo.shop import generate_demo_shop


def cmd_seed(args: argparse.Namespace) -> int:
    count = demo_customers_from_env() if args.customers is None else args.customers
    with get_sessionmaker()() as db:
        added = seed(db, demo_customers=count, rules=get_settings().stage_rules())
    print((f"demo data added ({count} generated customers)" if count else "demo data added") if added
          else "demo data already present")
    return 0


def cmd_generate_shop(args: argparse.Namespace) -> int:
    with get_sessionmaker()() as db:
        try:
            report = generate_demo_shop(db, customers=args.customers, seed=args.seed,
                                        rules=get_settings().stage_rules())
        except ValueError as exc:
            print(f"nothing generated: {exc}", file=sys.stderr)
            return 1
    print(report)
    return 0


def cmd_generate_conversations(args: argparse.Namespace) -> int:
    with get_sessionmaker()() as db:
        if args.if_empty and db.scalar(select(Conversation.id).limit(1)) is not None:
            print("conversations exist; none generated")
            return 0
        counts = generate_demo_conversations(db, per_customer=args.per_customer, seed=args.seed)
        db.commit()
    print(", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    first = sub.add_parser("seed", help="the demo shop once: products, three members, generated customers")
    first.add_argument("--customers", type=int, help="generated customers (default HX_DEMO_CUSTOMERS or 400)")
    first.set_defaults(run=cmd_seed)
    shop = sub.add_parser("generate-shop", help="add a generated demo shop: customers in every stage, orders")
    shop.add_argument("--customers", type=int, default=400, help="how many customers (default 400)")
    shop.add_argument("--seed", type=int, default=20261122, help="random seed: the same seed, the same shop")
    shop.set_defaults(run=cmd_generate_shop)
    talk = sub.add_parser("generate-conversations",
                          help="add demo conversations, handoffs and surveys for the existing customers")
    talk.add_argument("--per-customer", type=float, default=3.0, help="conversations per customer (default 3)")
    talk.add_argument("--seed", type=int, default=20261122)
    talk.add_argument("--if-empty", action="store_true", help="only when there are no conversations yet")
    talk.set_defaults(run=cmd_generate_conversations)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
