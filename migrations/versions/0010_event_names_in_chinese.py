"""Events say where they are and who hosts them in Chinese too.

Chinese pages, invitations and calendar entries showed the venue, city, country, hosts and
organizers in English. Each gets a Chinese twin (empty: the English text is shown). The two
seeded events get theirs where their English text is still the seeded one.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 12:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

COLUMNS = (("venue_zh", sa.String(200)), ("city_zh", sa.String(120)),
           ("country_zh", sa.String(80)), ("hosts_zh", sa.Text()),
           ("organizers_zh", sa.Text()))

# slug: {English column: (seeded English text, Chinese text)}, as ciie_rsvp/seed.py seeds them
SEEDED = {
    "meet-in-shanghai-2022": {
        "venue": ("Downtown Los Angeles", "洛杉矶市中心"),
        "city": ("Los Angeles", "洛杉矶"),
        "country": ("United States", "美国"),
        "hosts": ("Shanghai Municipal Commission of Commerce", "上海市商务委员会"),
        "organizers": ("World Trade Center Los Angeles; Shanghai Foreign Investment "
                       "Development Board", "洛杉矶世界贸易中心、上海市外国投资促进中心"),
    },
    "ciie-2022": {
        "venue": ("National Exhibition and Convention Center (Shanghai)", "国家会展中心（上海）"),
        "city": ("Shanghai", "上海"),
        "country": ("China", "中国"),
        "hosts": ("Ministry of Commerce of the People's Republic of China; Shanghai Municipal "
                  "People's Government", "中华人民共和国商务部、上海市人民政府"),
        "organizers": ("China International Import Expo Bureau; National Exhibition and "
                       "Convention Center (Shanghai)", "中国国际进口博览局、国家会展中心（上海）"),
    },
}


def upgrade():
    with op.batch_alter_table("events", schema=None) as batch_op:
        for name, type_ in COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=False, server_default=""))
    events = sa.table("events", sa.column("slug", sa.String(80)),
                      *(sa.column(name, sa.Text()) for name in ("venue", "city", "country",
                                                               "hosts", "organizers")),
                      *(sa.column(name, type_) for name, type_ in COLUMNS))
    bind = op.get_bind()
    for slug, fields in SEEDED.items():
        for field, (english, chinese) in fields.items():
            bind.execute(events.update()
                         .where(events.c.slug == slug, events.c[field] == english)
                         .values({f"{field}_zh": chinese}))


def downgrade():
    with op.batch_alter_table("events", schema=None) as batch_op:
        for name, _type in reversed(COLUMNS):
            batch_op.drop_column(name)
