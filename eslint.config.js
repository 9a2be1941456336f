import neostandard from 'neostandard'

export default neostandard({ ts: true, ignores: ['dist', '**/dist', 'dist-test', 'coverage', '.tap', '**/.readme'] })
