"""The demo's catalogue: categories, products and their variants, with the English names.

Names are in Spanish, the shop's default language; each variant's SKU is
"<item code>-<variant code>".
"""

from dataclasses import dataclass

CURRENCY = "EUR"

# (slug, name, name in English): names are in Spanish, the shop's default language.
CATEGORIES = [
    ("ropa", "Ropa", "Clothing"),
    ("calzado", "Calzado", "Shoes"),
    ("hogar", "Hogar", "Home"),
    ("electronica", "Electrónica", "Electronics"),
    ("belleza", "Belleza", "Beauty"),
    ("deporte", "Deporte", "Sport"),
]


def sizes(*labels: str) -> list[tuple[str, str]]:
    return [(label, f"Talla {label}") for label in labels]


COLOURS = {
    "NEG": "Negro",
    "BLA": "Blanco",
    "AZU": "Azul marino",
    "ROJ": "Rojo",
    "GRI": "Gris",
    "VER": "Verde oliva",
    "ROS": "Rosa",
    "ARE": "Arena",
}


def colours(*codes: str) -> list[tuple[str, str]]:
    return [(code, COLOURS[code]) for code in codes]


# Variant titles in English (sizes: "Talla M" is "Size M"; measures read the same).
TITLES_EN = {
    "Negro": "Black",
    "Blanco": "White",
    "Azul marino": "Navy blue",
    "Rojo": "Red",
    "Gris": "Grey",
    "Verde oliva": "Olive green",
    "Rosa": "Pink",
    "Arena": "Sand",
    "Cama de 90 cm": "90 cm bed",
    "Cama de 135 cm": "135 cm bed",
    "Cama de 150 cm": "150 cm bed",
    "3 tazas": "3 cups",
    "6 tazas": "6 cups",
    "Higo": "Fig",
    "Lavanda": "Lavender",
    "Cítricos": "Citrus",
    "Cabello normal": "Normal hair",
    "Cabello graso": "Oily hair",
    "Cabello seco": "Dry hair",
}


def title_translations(title: str) -> dict[str, str]:
    if title.startswith("Talla "):
        return {"en": "Size " + title.removeprefix("Talla ")}
    return {"en": TITLES_EN[title]} if title in TITLES_EN else {}


ONE = [("U", "")]  # a product sold in one version only


@dataclass(frozen=True)
class Item:
    code: str  # SKU prefix; each variant's SKU is "<code>-<variant code>"
    slug: str
    name: str
    description: str
    price: str
    # (variant code, title) or (variant code, title, price) when the variant's price differs.
    variants: list[tuple[str, ...]]


CATALOGUE: dict[str, list[Item]] = {
    "ropa": [
        Item(
            "CAMORG",
            "camiseta-algodon-organico",
            "Camiseta de algodón orgánico",
            "Camiseta de manga corta en punto de algodón orgánico de 180 g/m², corte recto.",
            "14.95",
            sizes("S", "M", "L", "XL"),
        ),
        Item(
            "VAQREC",
            "vaqueros-rectos",
            "Vaqueros rectos de tiro medio",
            "Denim elástico de 12 oz con cinco bolsillos y lavado medio.",
            "39.95",
            sizes("38", "40", "42", "44"),
        ),
        Item(
            "SUDCAP",
            "sudadera-con-capucha",
            "Sudadera con capucha",
            "Felpa perchada por dentro, bolsillo canguro y cordón ajustable.",
            "29.95",
            sizes("S", "M", "L"),
        ),
        Item(
            "CAMLIN",
            "camisa-de-lino",
            "Camisa de lino",
            "Lino 100 % lavado a la piedra, cuello clásico y botones de nácar.",
            "34.95",
            sizes("S", "M", "L", "XL"),
        ),
        Item(
            "CHQIMP",
            "chaqueta-impermeable-ligera",
            "Chaqueta impermeable ligera",
            "Tejido reciclado con membrana transpirable; se guarda en su propio bolsillo.",
            "59.95",
            sizes("M", "L"),
        ),
        Item(
            "JERMER",
            "jersey-punto-merino",
            "Jersey de punto de merino",
            "Lana merino extrafina de cuello redondo, no pica y regula la temperatura.",
            "49.95",
            colours("GRI", "AZU", "VER"),
        ),
        Item(
            "VESMID",
            "vestido-midi-estampado",
            "Vestido midi estampado",
            "Viscosa fluida con estampado floral, escote en pico y cinturón a juego.",
            "45.95",
            sizes("S", "M", "L"),
        ),
        Item(
            "PIJFRA",
            "pijama-de-franela",
            "Pijama de franela",
            "Conjunto de camisa y pantalón en franela de algodón a cuadros.",
            "27.95",
            sizes("M", "L"),
        ),
    ],
    "calzado": [
        Item(
            "ZAPRUN",
            "zapatillas-running-amortiguadas",
            "Zapatillas de running amortiguadas",
            "Mediasuela de espuma reactiva y malla transpirable para rodajes diarios.",
            "79.95",
            sizes("39", "40", "42", "44"),
        ),
        Item(
            "BOTPIE",
            "botines-de-piel",
            "Botines de piel",
            "Piel de vacuno con cremallera lateral y suela de goma antideslizante.",
            "89.95",
            sizes("37", "38", "39", "40"),
        ),
        Item(
            "SANPLA",
            "sandalias-planas-de-piel",
            "Sandalias planas de piel",
            "Tiras cruzadas de piel natural y plantilla acolchada.",
            "34.95",
            sizes("37", "38", "39"),
        ),
        Item(
            "ZAPLON",
            "zapatillas-de-lona",
            "Zapatillas de lona clásicas",
            "Lona de algodón, puntera de goma y cordones planos.",
            "39.95",
            colours("NEG", "BLA"),
        ),
        Item(
            "MOCANT",
            "mocasines-de-ante",
            "Mocasines de ante",
            "Ante flexible con costura a mano y suela de goma fina.",
            "69.95",
            sizes("41", "42", "43"),
        ),
        Item(
            "ALPYUT",
            "alpargatas-de-yute",
            "Alpargatas de yute",
            "Hechas en La Rioja con suela de yute trenzado y lona de algodón.",
            "19.95",
            sizes("38", "40", "42"),
        ),
        Item(
            "ZAPCAS",
            "zapatillas-de-casa",
            "Zapatillas de casa",
            "Forro de borreguito y suela de goma para andar por casa sin resbalar.",
            "14.95",
            sizes("36-38", "39-41", "42-44"),
        ),
    ],
    "hogar": [
        Item(
            "SABPER",
            "juego-sabanas-percal",
            "Juego de sábanas de percal",
            "Percal de algodón de 200 hilos: bajera ajustable, encimera y funda de almohada.",
            "39.95",
            [
                ("090", "Cama de 90 cm", "34.95"),
                ("135", "Cama de 135 cm"),
                ("150", "Cama de 150 cm", "44.95"),
            ],
        ),
        Item(
            "TOABAN",
            "toalla-de-bano",
            "Toalla de baño de algodón",
            "Rizo de algodón de 550 g/m², 70 × 140 cm.",
            "12.95",
            colours("BLA", "GRI", "AZU"),
        ),
        Item(
            "TAZCER",
            "taza-de-ceramica",
            "Taza de cerámica esmaltada",
            "Gres esmaltado a mano, 350 ml; apta para lavavajillas y microondas.",
            "6.95",
            colours("BLA", "VER", "ARE"),
        ),
        Item(
            "SARANT",
            "sarten-antiadherente",
            "Sartén antiadherente",
            "Aluminio forjado con recubrimiento sin PFOA, apta para inducción.",
            "24.95",
            [("20", "20 cm", "21.95"), ("24", "24 cm"), ("28", "28 cm", "29.95")],
        ),
        Item(
            "CAFITA",
            "cafetera-italiana",
            "Cafetera italiana de aluminio",
            "La de toda la vida, con válvula de seguridad y asa que no quema.",
            "24.95",
            [("3T", "3 tazas", "19.95"), ("6T", "6 tazas")],
        ),
        Item(
            "LAMMES",
            "lampara-de-mesa-ceramica",
            "Lámpara de mesa de cerámica",
            "Base de cerámica mate y pantalla de lino, casquillo E27.",
            "44.95",
            ONE,
        ),
        Item(
            "COJLIN",
            "funda-cojin-lino",
            "Funda de cojín de lino 45 × 45",
            "Lino lavado con cremallera oculta.",
            "15.95",
            colours("ARE", "GRI", "VER", "ROS"),
        ),
        Item(
            "VELSOJ",
            "vela-aromatica-de-soja",
            "Vela aromática de soja",
            "Cera de soja y mecha de algodón, unas 40 horas de combustión.",
            "9.95",
            [("HIG", "Higo"), ("LAV", "Lavanda"), ("CIT", "Cítricos")],
        ),
        Item(
            "CUCSET",
            "juego-cuchillos-cocina",
            "Juego de cuchillos de cocina (3 piezas)",
            "Acero inoxidable alemán: cebollero, santoku y de pelar.",
            "49.95",
            ONE,
        ),
    ],
    "electronica": [
        Item(
            "AURANC",
            "auriculares-cancelacion-ruido",
            "Auriculares inalámbricos con cancelación de ruido",
            "Bluetooth 5.3, hasta 30 horas de batería y carga rápida por USB-C.",
            "129.00",
            colours("NEG", "BLA"),
        ),
        Item(
            "ALTBLU",
            "altavoz-bluetooth-resistente",
            "Altavoz Bluetooth resistente al agua",
            "Protección IP67, 12 horas de música y emparejamiento estéreo.",
            "49.90",
            colours("NEG", "AZU", "ROJ"),
        ),
        Item(
            "CARUSC",
            "cargador-usb-c-65w",
            "Cargador USB-C 65 W",
            "GaN compacto con dos puertos USB-C y uno USB-A; carga un portátil.",
            "34.90",
            ONE,
        ),
        Item(
            "CABUSC",
            "cable-usb-c-trenzado",
            "Cable USB-C trenzado",
            "Nailon trenzado, 60 W y transferencia a 480 Mb/s.",
            "12.90",
            [("1M", "1 m"), ("2M", "2 m", "15.90")],
        ),
        Item(
            "BATEXT",
            "bateria-externa-10000",
            "Batería externa 10.000 mAh",
            "Carga rápida de 20 W y pantalla con el porcentaje restante.",
            "29.90",
            ONE,
        ),
        Item(
            "TECINA",
            "teclado-inalambrico-compacto",
            "Teclado inalámbrico compacto",
            "Distribución española con ñ, multidispositivo y pilas para dos años.",
            "39.90",
            colours("NEG", "BLA"),
        ),
        Item(
            "RATERG",
            "raton-ergonomico",
            "Ratón ergonómico inalámbrico",
            "Diseño vertical que reduce la tensión de la muñeca, 6 botones.",
            "29.90",
            ONE,
        ),
        Item(
            "RELDEP",
            "reloj-inteligente-deportivo",
            "Reloj inteligente deportivo",
            "GPS integrado, pulso, sueño y más de 100 deportes; 10 días de batería.",
            "149.00",
            colours("NEG", "ROS"),
        ),
        Item(
            "MICSD",
            "tarjeta-microsd",
            "Tarjeta microSD",
            "Clase 10 U3 A2 con adaptador SD, ideal para cámaras y móviles.",
            "14.90",
            [("064", "64 GB"), ("128", "128 GB", "22.90"), ("256", "256 GB", "39.90")],
        ),
    ],
    "belleza": [
        Item(
            "CREHID",
            "crema-hidratante-hialuronico",
            "Crema hidratante facial con ácido hialurónico",
            "Textura ligera para todo tipo de pieles, sin perfume. 50 ml.",
            "18.50",
            ONE,
        ),
        Item(
            "SOLSPF",
            "protector-solar-spf50",
            "Protector solar SPF 50+",
            "Fluido invisible de amplio espectro, resistente al agua.",
            "16.95",
            [("050", "50 ml"), ("200", "200 ml", "24.95")],
        ),
        Item(
            "CHASOL",
            "champu-solido",
            "Champú sólido",
            "Sin plásticos ni sulfatos; una pastilla equivale a tres botes.",
            "9.50",
            [("NOR", "Cabello normal"), ("GRA", "Cabello graso"), ("SEC", "Cabello seco")],
        ),
        Item(
            "PERFLO",
            "eau-de-parfum-floral",
            "Eau de parfum floral",
            "Notas de azahar, jazmín y almizcle blanco.",
            "59.00",
            [("050", "50 ml"), ("100", "100 ml", "85.00")],
        ),
        Item(
            "CEPELE",
            "cepillo-dientes-electrico",
            "Cepillo de dientes eléctrico",
            "Sónico con temporizador de dos minutos y tres modos de limpieza.",
            "49.95",
            colours("BLA", "NEG"),
        ),
        Item(
            "SECION",
            "secador-pelo-ionico",
            "Secador de pelo iónico 2000 W",
            "Motor AC, tres temperaturas, golpe de aire frío y boquilla concentradora.",
            "39.95",
            ONE,
        ),
    ],
    "deporte": [
        Item(
            "ESTYOG",
            "esterilla-yoga",
            "Esterilla de yoga antideslizante",
            "TPE de 6 mm sin PVC, con correa de transporte.",
            "24.95",
            colours("VER", "ROS", "GRI"),
        ),
        Item(
            "MANHEX",
            "mancuernas-hexagonales",
            "Mancuernas hexagonales (par)",
            "Recubiertas de caucho, con empuñadura cromada moleteada.",
            "19.95",
            [("02", "2 kg"), ("05", "5 kg", "34.95"), ("08", "8 kg", "49.95")],
        ),
        Item(
            "BOTTER",
            "botella-termica-750",
            "Botella térmica de acero 750 ml",
            "Doble pared al vacío: 24 horas frío, 12 horas caliente.",
            "19.95",
            colours("NEG", "BLA", "AZU", "VER"),
        ),
        Item(
            "MOCTRE",
            "mochila-trekking-30",
            "Mochila de trekking 30 l",
            "Espalda ventilada, funda impermeable y compartimento para hidratación.",
            "54.95",
            colours("NEG", "ROJ"),
        ),
        Item(
            "BALFUT",
            "balon-futbol-talla-5",
            "Balón de fútbol talla 5",
            "Termosellado, apto para césped natural y artificial.",
            "24.95",
            ONE,
        ),
        Item(
            "PALPAD",
            "pala-padel-carbono",
            "Pala de pádel de carbono",
            "Forma de lágrima, núcleo de EVA blanda y marco de carbono 12K.",
            "99.95",
            ONE,
        ),
        Item(
            "MALRUN",
            "mallas-de-running",
            "Mallas de running",
            "Tejido compresivo con bolsillo trasero con cremallera y detalles reflectantes.",
            "29.95",
            sizes("S", "M", "L"),
        ),
    ],
}

# Product names in English, by slug.
NAMES_EN = {
    "camiseta-algodon-organico": "Organic cotton T-shirt",
    "vaqueros-rectos": "Mid-rise straight jeans",
    "sudadera-con-capucha": "Hooded sweatshirt",
    "camisa-de-lino": "Linen shirt",
    "chaqueta-impermeable-ligera": "Lightweight waterproof jacket",
    "jersey-punto-merino": "Merino knit jumper",
    "vestido-midi-estampado": "Printed midi dress",
    "pijama-de-franela": "Flannel pyjamas",
    "zapatillas-running-amortiguadas": "Cushioned running shoes",
    "botines-de-piel": "Leather ankle boots",
    "sandalias-planas-de-piel": "Flat leather sandals",
    "zapatillas-de-lona": "Classic canvas trainers",
    "mocasines-de-ante": "Suede loafers",
    "alpargatas-de-yute": "Jute espadrilles",
    "zapatillas-de-casa": "House slippers",
    "juego-sabanas-percal": "Percale sheet set",
    "toalla-de-bano": "Cotton bath towel",
    "taza-de-ceramica": "Glazed ceramic mug",
    "sarten-antiadherente": "Non-stick frying pan",
    "cafetera-italiana": "Aluminium stovetop coffee maker",
    "lampara-de-mesa-ceramica": "Ceramic table lamp",
    "funda-cojin-lino": "Linen cushion cover 45 × 45",
    "vela-aromatica-de-soja": "Scented soy candle",
    "juego-cuchillos-cocina": "Kitchen knife set (3 pieces)",
    "auriculares-cancelacion-ruido": "Noise-cancelling wireless headphones",
    "altavoz-bluetooth-resistente": "Waterproof Bluetooth speaker",
    "cargador-usb-c-65w": "65 W USB-C charger",
    "cable-usb-c-trenzado": "Braided USB-C cable",
    "bateria-externa-10000": "10,000 mAh power bank",
    "teclado-inalambrico-compacto": "Compact wireless keyboard",
    "raton-ergonomico": "Ergonomic wireless mouse",
    "reloj-inteligente-deportivo": "Sports smartwatch",
    "tarjeta-microsd": "microSD card",
    "crema-hidratante-hialuronico": "Face moisturiser with hyaluronic acid",
    "protector-solar-spf50": "SPF 50+ sunscreen",
    "champu-solido": "Solid shampoo bar",
    "eau-de-parfum-floral": "Floral eau de parfum",
    "cepillo-dientes-electrico": "Electric toothbrush",
    "secador-pelo-ionico": "2000 W ionic hair dryer",
    "esterilla-yoga": "Non-slip yoga mat",
    "mancuernas-hexagonales": "Hex dumbbells (pair)",
    "botella-termica-750": "750 ml steel thermal bottle",
    "mochila-trekking-30": "30 l trekking backpack",
    "balon-futbol-talla-5": "Size 5 football",
    "pala-padel-carbono": "Carbon padel racket",
    "mallas-de-running": "Running tights",
}
