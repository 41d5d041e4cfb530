import qrcode
import qrcode.image.svg


def qr_svg(data: str) -> bytes:
    """A QR code as a standalone SVG document, made on the server."""
    image = qrcode.make(
        data,
        image_factory=qrcode.image.svg.SvgPathFillImage,
        box_size=10,
        border=2,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
    )
    return image.to_string(encoding="unicode").encode()
