# Copyright (c) mmavs contributors. All rights reserved.
"""Registration entry point for scripts that do not go through a config."""
from mmengine.registry import init_default_scope


def register_all_modules(init_default_scope_: bool = True) -> None:
    """Register mmseg's and mmavs' modules into mmseg's registries.

    Configs do this through ``custom_imports = dict(imports=['mmavs'])``;
    scripts and notebooks that build models directly call this instead.

    Args:
        init_default_scope_ (bool): Also make ``'mmseg'`` the default registry
            scope, as configs do with ``default_scope = 'mmseg'``.
            Defaults to True.
    """
    from mmseg.utils import register_all_modules as register_mmseg

    import mmavs.datasets  # noqa: F401
    import mmavs.engine  # noqa: F401
    import mmavs.evaluation  # noqa: F401
    import mmavs.models  # noqa: F401
    import mmavs.visualization  # noqa: F401
    register_mmseg(init_default_scope=False)
    if init_default_scope_:
        init_default_scope('mmseg')
