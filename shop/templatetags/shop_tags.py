from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    """``{{ mapping|get_item:key }}`` for dicts built by selectors."""
    if not mapping:
        return None
    return mapping.get(key)


@register.filter
def field_label(form, name):
    """The label of a form field by name (for error summaries)."""
    field = form.fields.get(name)
    return field.label if field is not None and field.label else name
