"""Sample text that generated documents carry and tests then look for: a file's content, not its format."""

CHINESE_SENTENCES = [
    "商品在签收后三十天内可以无理由退货。",
    "请保留原始包装和购物小票，以便我们尽快处理退款。",
    "我们向全国所有省份配送，偏远地区可能需要额外的两到三天。",
]
