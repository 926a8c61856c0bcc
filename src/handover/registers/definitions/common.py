"""Value lists and columns that several registers share: the shared entities' enums (registers.md §2),
the backup checks, and the 表39 exception link every handover register carries (registers.md §3.2).
"""

from __future__ import annotations

from handover.registers.columns import BOOL_CHOICES, Choice, Column, choices

YES, NO = BOOL_CHOICES[0].zh, BOOL_CHOICES[1].zh


def zh_values(values: tuple[Choice, ...], *without: str) -> tuple[str, ...]:
    """The Chinese values of ``values`` except ``without``: for conditions such as "if ≠ 保留"."""
    return tuple(choice.zh for choice in values if choice.zh not in without)


# person.employment_type, person.employment (registers.md §2, 第二十五条第3项).
EMPLOYMENT_TYPE = choices(
    ("正式", "permanent"),
    ("外包驻场", "on-site contractor"),
    ("厂商驻场", "on-site vendor"),
    ("借调", "seconded"),
)
EMPLOYMENT = choices(("在职", "employed"), ("离职", "left"))

# system.category (registers.md §2).
SYSTEM_CATEGORY = choices(
    ("集中交易", "centralised trading"),
    ("营业部柜台", "branch counter"),
    ("网上交易", "online trading"),
    ("电话委托", "telephone orders"),
    ("行情", "market data"),
    ("报盘", "order routing"),
    ("清算", "clearing"),
    ("第三方存管/银证转账", "third-party custody / bank transfer"),
    ("财务", "finance"),
    ("办公", "office"),
    ("网络", "network"),
    ("安全", "security"),
    ("其他", "other"),
)

# The categories of the systems that trade or settle (第三十一条第3项: no change to them in a trading session).
TRADING_CATEGORIES = frozenset(
    {"集中交易", "营业部柜台", "网上交易", "电话委托", "报盘", "清算", "第三方存管/银证转账"}
)

# asset.class (registers.md §2, 第二十六条第7项: 电子类设备).
ASSET_CLASS = choices(
    ("服务器", "server"),
    ("存储", "storage"),
    ("工作站", "workstation"),
    ("PC", "PC"),
    ("路由器", "router"),
    ("交换机", "switch"),
    ("防火墙/安全设备", "firewall / security appliance"),
    ("UPS/电源", "UPS / power"),
    ("其他电子设备", "other electronic equipment"),
)

# account.layer and account.class (registers.md §2, 第二十六条第2、3项).
ACCOUNT_LAYER = choices(
    ("操作系统", "operating system"),
    ("数据库", "database"),
    ("中间件", "middleware"),
    ("应用系统", "application"),
    ("应用后台", "application back end"),
    ("网络设备", "network device"),
    ("安全设备", "security device"),
)
ACCOUNT_CLASS = choices(
    ("超级用户", "super-user"),
    ("等效超级用户", "equivalent super-user"),
    ("后台用户", "back-end user"),
    ("操作员", "operator"),
    ("应用服务账户", "application service account"),
    ("厂商维护账户", "vendor maintenance account"),
)

# line.medium and line.role (registers.md §2, 第三十五条第1项).
LINE_MEDIUM = choices(("地面", "terrestrial"), ("卫星", "satellite"), ("VPN", "VPN"), ("互联网", "internet"))
LINE_ROLE = choices(("主", "primary"), ("备", "backup"))

# 表8 备份方式, reused "as 表8" by 表14 and 表29.
BACKUP_METHOD = choices(
    ("全备份", "full backup"),
    ("应用系统备份功能", "application backup function"),
    ("数据库备份", "database backup"),
    ("文件备份", "file backup"),
    ("目录备份", "directory backup"),
    ("镜像", "image"),
)
PASS_FAIL = choices(("通过", "passed"), ("不通过", "failed"))

# registers.md §1.3: the only trace of a login check a secrets register keeps.
LOGIN_VERIFIED = choices(("成功", "succeeded"), ("失败", "failed"), ("未验证", "not verified"))

# 表18 资料类别, reused by 表34 (registers.md: "enum (as 表18)").
DOCUMENT_CATEGORY = choices(
    ("系统运行维护日志", "operation and maintenance logs"),
    ("应急预案", "contingency plan"),
    ("系统技术文档", "system technical documentation"),
    ("信息系统设备清单", "equipment list"),
    ("合同及执行情况", "contracts and their performance"),
    ("运维费用支付方式及情况", "maintenance fees: payment method and status"),
    ("相关单位联系方式", "contacts of related organisations"),
    ("原信息技术管理制度", "the firm's original IT rules"),
    ("其他", "other"),
)


def exception_refs(
    required: str = "O",
    *,
    condition: str = "",
    articles: tuple[str, ...] = ("第二十八条",),
    note: str = "",
) -> Column:
    """异常: the 表39 rows a row triggered (第二十八条). Every handover register has it (registers.md §3.2).

    A C link is not required when the row is entered: the 表39 entry names the row it came from, so it is
    written after it. registers.rules checks at submission that every failed or rolled-back row links an
    entry reported to 技术组 (deviation: the spec states the condition per column; it is enforced per form).
    """
    return Column(
        "exception_refs",
        "异常",
        "Exceptions",
        "refs",
        required,
        ref="T39",
        condition=condition,
        articles=articles,
        note=note,
    )
