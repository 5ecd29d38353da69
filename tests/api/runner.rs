//! `colloquy test`: the scripted-conversation runner, including scripts that must fail.
