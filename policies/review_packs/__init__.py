"""Built-in review packs: YAML review policies (policies/review.py), each documented in its
comments with the legal reasoning behind every rule.

- `review-research`    research by an EU research organisation (DSM Art. 3)
- `review-commercial`  commercial training (DSM Art. 4(3) in the EU)
"""
