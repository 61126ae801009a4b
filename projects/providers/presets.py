"""Known providers by name: where they are, which API style they speak, their limits."""

from dataclasses import dataclass, field

from .style import SEEDANCE_2 as SEEDANCE


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    style: str
    base_url: str  # empty: the user gives SEEDANCE_BASE_URL
    models: tuple[str, ...]
    default_model: str
    rpm: int | None = None  # requests a minute, from the provider's document
    concurrency: int | None = None  # tasks running at once
    daily: int | None = None  # requests a day
    headers: dict = field(default_factory=dict)
    lists: bool = True  # False: its document shows no list route, tasks are read by id


PRESETS = {
    preset.name: preset
    for preset in [
        Preset(
            "volcengine",
            "Volcengine Ark (ByteDance, China)",
            "ark",
            "https://ark.cn-beijing.volces.com/api/v3",
            SEEDANCE,
            SEEDANCE[1],
        ),
        Preset(
            "byteplus",
            "BytePlus ModelArk (ByteDance, international)",
            "ark",
            "https://ark.ap-southeast.bytepluses.com/api/v3",
            ("dreamina-seedance-2-0-260128", "dreamina-seedance-2-0-fast-260128"),
            "dreamina-seedance-2-0-fast-260128",
        ),
        Preset(
            "apiyi",
            "APIYI",
            "ark",
            "https://api.apiyi.com/seedance/api/v3",
            SEEDANCE,
            SEEDANCE[1],
            # Its document: without this, Python clients fail to decode the gzip answer.
            headers={"Accept-Encoding": "identity"},
            lists=False,  # its document shows create and get by id, nothing else
        ),
        Preset(
            "dieyuyun",
            "dieyuyun",
            "dieyuyun",
            "https://open.dieyuyun.com",
            ("doubao-seedance-2-0",),
            "doubao-seedance-2-0",
            rpm=5,
            concurrency=2,
            daily=100,
        ),
        Preset(
            "wisgate",
            "Wisdom Gate",
            "wisgate",
            "https://api.wisgate.ai",
            ("doubao-seedance-2",),
            "doubao-seedance-2",
        ),
        Preset(
            "openai-videos",
            "OpenAI/Sora-compatible gateway",
            "openai-videos",
            "",
            SEEDANCE,
            SEEDANCE[1],
        ),
        Preset(
            "futurmix",
            "FuturMix",
            "futurmix",
            "https://futurmix.ai/v1",
            SEEDANCE,
            SEEDANCE[0],
        ),
    ]
}
