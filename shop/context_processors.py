def shop(request):
    """Cart badge count for the header (one cheap query, only when a cart exists)."""
    from shop.web import cart_count

    return {"cart_count": cart_count(request)}
