"""Hải Đăng: media monitoring and misinformation flagging for provincial foreign-information offices."""

__version__ = "0.1.0"
